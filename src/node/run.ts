/**
 * Runs one node of the federation from its config. STUB: the composition
 * (transport, transactions, registrar, calls, admin) is wired by the lead;
 * until then it refuses to start with a typed error.
 */
import { SpacephoneError } from '../util/errors.ts';
import type { Config } from './config.ts';

export class NotImplementedError extends SpacephoneError {
  readonly code = 'NOT_IMPLEMENTED';
}

export interface RunNodeOptions {
  config: Config;
  /** Name of this node in config.nodes (validated by the caller). */
  nodeName: string;
  /** Path of the config file, as given on the command line. */
  configPath: string;
}

export async function runNode(opts: RunNodeOptions): Promise<void> {
  throw new NotImplementedError(`running node "${opts.nodeName}" is not implemented yet`);
}
