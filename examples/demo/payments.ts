import { createService, type Infrastructure, type Service, type ServiceCredentials } from '@switchyard/sdk';
import { newId, SCHEMA } from './ids.js';

interface Money {
  amount: number;
  currency: string;
}

interface ChargeRequest {
  orderId: string;
  amount: Money;
  method: { kind: 'card'; token: string } | { kind: 'bank_transfer'; iban: string };
  idempotencyKey: string;
}

/** Charges above this are declined, so the demo shows both outcomes. */
const DECLINE_ABOVE = 100_000;

/**
 * payments: an RPC-only service. `charge` is reached through the gateway route
 * `POST /api/payments/charge`; its request and reply are checked against
 * schemas/payments on both sides, and a retried request with the same
 * idempotencyKey returns the first answer.
 */
export async function startPayments(infra: Infrastructure, credentials?: ServiceCredentials): Promise<Service> {
  const answered = new Map<string, unknown>();
  const service = createService({
    name: 'payments',
    version: '1.0.0',
    infra,
    // With auth on (npm start's default) each service has its own account.
    ...(credentials ? { credentials } : {}),
    methods: {
      charge: {
        request: SCHEMA.chargeRequest,
        response: SCHEMA.chargeResponse,
        idempotent: true,
        handler: (req: ChargeRequest, ctx) => {
          const earlier = answered.get(req.idempotencyKey);
          if (earlier !== undefined) return earlier;
          const declined = req.amount.amount > DECLINE_ABOVE;
          const reply = {
            paymentId: newId('pay'),
            orderId: req.orderId,
            status: declined ? 'declined' : 'succeeded',
            amount: req.amount,
            ...(declined ? { declineReason: 'insufficient_funds' } : {}),
            processedAt: new Date().toISOString(),
          };
          answered.set(req.idempotencyKey, reply);
          ctx.logger.info({ caller: ctx.caller, orderId: req.orderId, status: reply.status }, 'payments: charged');
          return reply;
        },
      },
    },
  });
  await service.start();
  return service;
}
