import { runtimeDir } from '../state/runtime-dir';
import { defaultStateDir, StateStore } from '../state/state-store';

/** The environment the commands read (the entry restored it first). */
export const env = process.env;

/** This user's state store, with this node's runtime directory. */
export const store = (): StateStore => new StateStore(defaultStateDir(env), runtimeDir(env));
