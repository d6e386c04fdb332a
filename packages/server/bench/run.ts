/**
 * `npm run bench -- [name...]` (or `node bench/run.ts [name...]` in packages/server): runs the
 * named benchmarks, all of them without a name, and prints for each a table of mailwatch's
 * figures next to the official emulator's, measured in the same run.
 *
 * Environment: BENCH_SCALE (e.g. 0.1 for a smoke run), BENCH_CLIENTS (requests in flight, 4),
 * BENCH_MAILWATCH_FLAGS (extra `mailwatch serve` flags, e.g. "--fsync"),
 * BENCH_CPU_PROF=<dir> (run mailwatch with --cpu-prof, profiles written to <dir> on exit).
 */
import { describeMachine, formatTable, type Result } from './lib.ts';
import { pubsubGrpc } from './pubsub-grpc.ts';
import { pubsubRest } from './pubsub-rest.ts';

const BENCHMARKS: Record<string, () => Promise<Result[]>> = {
  'pubsub-rest': pubsubRest,
  'pubsub-grpc': pubsubGrpc,
};

const wanted = process.argv.slice(2).filter((arg) => arg !== '--');
const unknown = wanted.filter((name) => !Object.hasOwn(BENCHMARKS, name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(2);
}

console.log(describeMachine());
let failed = false;
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHMARKS)) {
  console.log('');
  try {
    const results = await BENCHMARKS[name]();
    console.log('');
    console.log(formatTable(name, results));
  } catch (error) {
    failed = true;
    console.error(`${name} failed:`, error);
  }
}
process.exitCode = failed ? 1 : 0;
