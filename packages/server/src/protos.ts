/**
 * Google's published .proto files, loaded at run time from the npm packages that ship them
 * (never hand-copied). Neither package exports its package.json, so the directories are
 * found next to the resolved main file (see Runtime in DESIGN.md).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

export const PROTO_FILES = [
  'google/pubsub/v1/pubsub.proto',
  'google/iam/v1/iam_policy.proto',
  'google/rpc/status.proto',
  'google/rpc/error_details.proto',
];

export function protoIncludeDirs(): string[] {
  return [
    join(dirname(require.resolve('@google-cloud/pubsub')), '..', 'protos'),
    join(dirname(require.resolve('google-gax')), '..', 'protos'),
  ];
}

let cached: protobuf.Root | undefined;

/** One parsed Root for the whole process: it is immutable after loading. */
export function loadProtoRoot(): protobuf.Root {
  if (cached) return cached;
  const dirs = protoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of dirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(PROTO_FILES, { keepCase: false });
  root.resolveAll();
  cached = root;
  return root;
}
