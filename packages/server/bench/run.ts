/**
 * `npm run bench -- [name...]`: runs the named benchmarks (all without names) and prints each
 * figure for mailwatch and for its peer measured in the same run, with the ratio. The two
 * targets run one after the other, so they never compete for the machine's cores.
 */
import { describeMachine, printTable, startMailwatchProcess, startPeer, type Measurement, type Target } from './lib.ts';
import { pubsubRest } from './pubsub-rest.ts';

type Benchmark = (target: Target) => Promise<Measurement[]>;

const BENCHMARKS: Record<string, { title: string; run: Benchmark }> = {
  'pubsub-rest': { title: 'Pub/Sub REST throughput', run: pubsubRest },
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(2);
}

async function measureOn(start: () => Promise<Target | undefined>, run: Benchmark): Promise<{ name?: string; figures?: Measurement[] }> {
  const target = await start();
  if (!target) return {};
  try {
    return { name: target.name, figures: await run(target) };
  } finally {
    await target.stop();
  }
}

console.log(describeMachine());
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHMARKS)) {
  const { title, run } = BENCHMARKS[name];
  const mine = await measureOn(() => startMailwatchProcess(), run);
  const theirs = await measureOn(startPeer, run);
  printTable(
    `${title}: mailwatch ${mine.name}, peer ${theirs.name ?? 'none'}`,
    mine.figures!.map((m, i) => ({ ...m, mailwatch: m.value, peer: theirs.figures?.[i].value })),
  );
}
