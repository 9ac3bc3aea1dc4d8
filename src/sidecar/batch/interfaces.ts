import { networkInterfaces } from 'node:os';
import { InputError } from '../errors';

export interface ChosenInterface {
  name: string;
  address: string;
}

type Interfaces = ReturnType<typeof networkInterfaces>;

/** The node's interfaces with an IPv4 address, loopback last. */
function ipv4Interfaces(interfaces: Interfaces): ChosenInterface[] {
  const found: ChosenInterface[] = [];
  for (const [name, addresses] of Object.entries(interfaces)) {
    const ipv4 = (addresses ?? []).find(a => a.family === 'IPv4');
    if (ipv4) found.push({ name, address: ipv4.address });
  }
  return found.sort((a, b) => Number(a.address.startsWith('127.')) - Number(b.address.startsWith('127.')));
}

/**
 * Where the scheduler listens for workers on other nodes: the interface asked for, else the
 * high-speed one (`ib0`, as the seeds set by hand), else the first that is not loopback.
 */
export function chooseInterface(requested: string | null, interfaces: Interfaces = networkInterfaces()): ChosenInterface {
  const candidates = ipv4Interfaces(interfaces);
  const names = candidates.map(c => c.name).join(', ');
  if (requested !== null) {
    const match = candidates.find(c => c.name === requested);
    if (!match) {
      throw new InputError('interface', `this node has no interface ${JSON.stringify(requested)} with an IPv4 address; it has ${names}`);
    }
    return match;
  }
  const chosen = candidates.find(c => c.name === 'ib0') ?? candidates[0];
  if (!chosen) throw new InputError('interface', 'this node has no network interface with an IPv4 address');
  return chosen;
}
