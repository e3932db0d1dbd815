/**
 * Runs one node of the federation from its config until SIGINT/SIGTERM (or, when
 * started by the lab, until the lab goes away). Prints `node <name> ready` on
 * stdout once every listener is bound: the lab and tests wait for that line.
 */
import type { Config } from './config.ts';
import { PbxNode } from './node.ts';
import { watchParent } from '../lab/parent-watch.ts';

export interface RunNodeOptions {
  config: Config;
  /** Name of this node in config.nodes (validated by the caller). */
  nodeName: string;
  /** Path of the config file, as given on the command line. */
  configPath: string;
}

export async function runNode(opts: RunNodeOptions): Promise<void> {
  const node = new PbxNode({ config: opts.config, nodeName: opts.nodeName });
  try {
    await node.start();
  } catch (err) {
    await node.close();
    throw err;
  }
  process.stdout.write(`node ${opts.nodeName} ready\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      unwatch();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      node.logger.info('shutting down');
      void node.close().then(resolve, resolve);
    };
    const unwatch = watchParent(stop);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
