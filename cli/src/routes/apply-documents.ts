import type { CommandContext } from '../context.js';
import { describePlan, planSummary } from '../output/plan-text.js';
import { applyRoutePlan, readStoredRoutes } from './etcd-routes.js';
import { type DesiredDocument, isNoop, planRoutes } from './route-plan.js';

export interface ApplyDocumentsOptions<T extends DesiredDocument> {
  /** The file's name, for the output. */
  name: string;
  /** `routes`, `rules`: in progress labels and messages. */
  noun: string;
  /** The etcd prefix the documents live under, and the key of one. */
  prefix: string;
  key: (id: string) => string;
  /** Already validated, every one. */
  desired: readonly T[];
  prune: boolean;
  dryRun: boolean;
}

/**
 * `routes apply` and `auth rules apply`: read what etcd holds under the prefix, plan,
 * write the plan in transactions (unless a dry run or nothing changes), report the diff
 * as text or JSON.
 */
export async function applyDocuments<T extends DesiredDocument>(
  ctx: CommandContext,
  o: ApplyDocumentsOptions<T>,
): Promise<void> {
  const ns = ctx.settings.namespace;
  const stored = await ctx.etcdStep(`reading ${o.noun} from etcd`, (c) => readStoredRoutes(c, ns, o.prefix));
  const plan = planRoutes(o.desired, stored.routes, { prune: o.prune });
  let applied: { transactions: number; revision: string | undefined } | undefined;
  if (!o.dryRun && !isNoop(plan)) {
    applied = await ctx.etcdStep(`writing ${o.noun} to etcd`, (c) =>
      applyRoutePlan(c, ns, plan, { key: o.key, noun: o.noun }),
    );
  }
  if (ctx.json) {
    ctx.outJson({
      file: o.name,
      namespace: ns,
      dryRun: o.dryRun,
      applied: applied !== undefined,
      revision: applied?.revision,
      added: plan.added.map((d) => d.id),
      changed: plan.changed.map((c) => ({ id: c.desired.id, fields: c.fields })),
      unchanged: plan.unchanged.map((d) => d.id),
      removed: plan.removed.map((s) => s.id),
      kept: plan.kept.map((s) => s.id),
      ignoredKeys: stored.foreign,
    });
    return;
  }
  ctx.out(`${o.name} -> etcd ${o.prefix}`);
  ctx.out(describePlan(plan));
  for (const key of stored.foreign) ctx.out(`  ? ${key}  (outside the layout ${o.prefix}<id>; ignored)`);
  ctx.out(planSummary(plan));
  if (o.dryRun) ctx.out('dry run: nothing was written');
  else if (!applied) ctx.out('etcd already matches the file: nothing to write');
  else
    ctx.out(
      `applied in ${applied.transactions} transaction${applied.transactions === 1 ? '' : 's'} (etcd revision ${applied.revision})`,
    );
}
