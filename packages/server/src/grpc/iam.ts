/** google.iam.v1.IAMPolicy for topics, subscriptions and projects (same Policies as REST). */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { BrokerService } from '../domain/broker/service.ts';
import { unary } from './handlers.ts';

export function iamPolicy(broker: BrokerService, logger: Logger): UntypedServiceImplementation {
  return {
    SetIamPolicy: unary(logger, 'google.iam.v1.SetIamPolicyRequest', 'google.iam.v1.Policy', (r) =>
      broker.policies.set(r.resource ?? '', r.policy ?? {}),
    ),
    GetIamPolicy: unary(logger, 'google.iam.v1.GetIamPolicyRequest', 'google.iam.v1.Policy', (r) =>
      broker.policies.get(r.resource ?? '', r.options?.requestedPolicyVersion),
    ),
    TestIamPermissions: unary(logger, 'google.iam.v1.TestIamPermissionsRequest', 'google.iam.v1.TestIamPermissionsResponse', async (r) => ({
      // Pub/Sub needs no credentials (DESIGN.md, dev auth): the caller holds everything.
      permissions: await broker.policies.test(r.resource ?? '', r.permissions ?? [], null),
    })),
  };
}
