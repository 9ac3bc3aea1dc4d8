import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { DaskHpcModel } from './model';
import { autoConnectCode } from './snippet';

/**
 * With the autoConnect setting, a Python kernel that starts while a cluster runs gets `client`
 * (connected to the newest running cluster) and `dask_local_dir`. Kernels already running when
 * the page loads are left alone.
 */
export function connectNewKernels(
  kernels: JupyterFrontEnd['serviceManager']['kernels'],
  model: DaskHpcModel,
  enabled: () => boolean
): void {
  const known = new Set<string>();
  const onRunningChanged = () => {
    const cluster = model.newestRunning;
    for (const kernelModel of kernels.running()) {
      if (known.has(kernelModel.id)) continue;
      known.add(kernelModel.id);
      if (!enabled() || !cluster || !/python/i.test(kernelModel.name)) continue;
      const kernel = kernels.connectTo({ model: kernelModel });
      const future = kernel.requestExecute({ code: autoConnectCode(cluster), silent: true, store_history: false });
      void future.done.finally(() => kernel.dispose()); // our connection only: the kernel lives on
    }
  };
  void kernels.ready.then(() => {
    for (const kernelModel of kernels.running()) known.add(kernelModel.id);
    kernels.runningChanged.connect(onRunningChanged);
  });
}
