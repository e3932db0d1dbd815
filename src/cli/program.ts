/**
 * The `spacephone` commands (commander), importable without side effects;
 * main.ts is the entry point. Exit codes:
 *   0 success, 1 runtime failure, 2 invalid configuration or usage.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, computeHa1, loadConfig, nodeConfig, redact } from '../node/config.ts';
import { SpacephoneError } from '../util/errors.ts';
import { summarize } from './summary.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

/** `result.code` is set by commands that finish with a non-zero code without throwing. */
export function buildProgram(result: { code: number } = { code: EXIT_OK }): Command {
  const program = new Command('spacephone')
    .description('Multi-node SIP telephony system (PBX federation)')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('start')
    .description('run one node of the federation')
    .requiredOption('-c, --config <file>', 'federation config file (YAML)')
    .requiredOption('-n, --node <name>', 'which node of the config this process is')
    .action(async (opts: { config: string; node: string }) => {
      const config = loadConfig(opts.config);
      nodeConfig(config, opts.node);
      const { runNode } = await import('../node/run.ts');
      await runNode({ config, nodeName: opts.node, configPath: opts.config });
    });

  program
    .command('check-config')
    .description('validate a config file and print a summary (secrets redacted)')
    .argument('<file>', 'federation config file (YAML)')
    .option('-n, --node <name>', 'show only this node (and check that it exists)')
    .option('--json', 'print the resolved, redacted config as JSON')
    .action((file: string, opts: { node?: string; json?: boolean }) => {
      const config = loadConfig(file);
      if (opts.node !== undefined) nodeConfig(config, opts.node);
      const shown = redact(config);
      console.log(opts.json === true ? JSON.stringify(shown, null, 2) : summarize(shown, opts.node));
    });

  program
    .command('lab')
    .description('run the whole lab federation on loopback until Ctrl-C (DESIGN.md §6)')
    .option('--dir <dir>', 'state directory (TLS files, logs)', '.lab')
    .action(async (opts: { dir: string }) => {
      // Loaded on demand: the lab pulls in the dashboard and simulators.
      const { runLabCli } = await import('../lab/cli.ts');
      result.code = await runLabCli({ dir: opts.dir });
    });

  program
    .command('hash-password')
    .description('print digest HA1 values (RFC 7616 §3.4.2) for an extension, for `ha1:` in the config')
    .requiredOption('-u, --user <user>', 'extension number (digest username)')
    .requiredOption('-r, --realm <realm>', 'digest realm (the config `realm`, default: `domain`)')
    .addOption(new Option('-p, --password <password>', 'password (visible in ps; prefer --password-stdin)').conflicts('passwordStdin'))
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action((opts: { user: string; realm: string; password?: string; passwordStdin?: boolean }) => {
      const password = opts.password ?? (opts.passwordStdin === true ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : undefined);
      if (password === undefined || password === '') throw new UsageError('a password is required: --password or --password-stdin');
      console.log(`md5: ${computeHa1(opts.user, opts.realm, password, 'md5')}`);
      console.log(`sha256: ${computeHa1(opts.user, opts.realm, password, 'sha256')}`);
    });

  return program;
}

class UsageError extends SpacephoneError {
  readonly code = 'USAGE';
}

/** Runs the CLI and returns the exit code (never throws). */
export async function main(argv: readonly string[]): Promise<number> {
  const result = { code: EXIT_OK };
  try {
    await buildProgram(result).parseAsync([...argv], { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version output exit 0; commander already printed usage errors.
      return err.exitCode === 0 ? EXIT_OK : EXIT_CONFIG;
    }
    if (err instanceof ConfigError) {
      console.error(`spacephone: invalid configuration\n${err.message}`);
      return EXIT_CONFIG;
    }
    if (err instanceof UsageError) {
      console.error(`spacephone: ${err.message}`);
      return EXIT_CONFIG;
    }
    const code = err instanceof SpacephoneError ? ` [${err.code}]` : '';
    console.error(`spacephone: ${err instanceof Error ? err.message : String(err)}${code}`);
    return EXIT_FAILURE;
  }
}
