import { describeFieldChange } from '../routes/field-diff.js';
import type { DesiredDocument, RoutePlan } from '../routes/route-plan.js';

/** The diff of a plan, one line per document (`+` added, `~` changed with its fields, `=`, `-`, `!` kept). */
export function describePlan(plan: RoutePlan<DesiredDocument>): string {
  const lines: string[] = [];
  const width = Math.max(
    0,
    ...[...plan.added, ...plan.unchanged].map((d) => d.id.length),
    ...plan.changed.map((c) => c.desired.id.length),
    ...[...plan.removed, ...plan.kept].map((s) => s.id.length),
  );
  const row = (mark: string, id: string, what: string) => lines.push(`  ${mark} ${id.padEnd(width)}  ${what}`);
  for (const d of plan.added) row('+', d.id, 'added');
  for (const c of plan.changed) {
    row('~', c.desired.id, 'changed');
    for (const f of c.fields) lines.push(`      ${describeFieldChange(f)}`);
  }
  for (const d of plan.unchanged) row('=', d.id, 'unchanged');
  for (const s of plan.removed) row('-', s.id, 'removed (not in the file; --prune)');
  for (const s of plan.kept) row('!', s.id, 'not in the file; kept (add --prune to delete it)');
  return lines.join('\n');
}

/** `2 added, 1 changed, ...`. */
export function planSummary(plan: RoutePlan<DesiredDocument>): string {
  const parts = [
    `${plan.added.length} added`,
    `${plan.changed.length} changed`,
    `${plan.unchanged.length} unchanged`,
    `${plan.removed.length} removed`,
  ];
  if (plan.kept.length > 0) parts.push(`${plan.kept.length} kept`);
  return parts.join(', ');
}
