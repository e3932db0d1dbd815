// Entry point of the `spacephone` command (loaded by bin/spacephone.mjs through tsx).
import { main } from './program.ts';

process.exitCode = await main(process.argv.slice(2));
