import { checkRule, DEFAULT_RULES, ruleKey, rulesPrefix } from '@switchyard/sdk';
import type { Command } from 'commander';
import { validateRulesFile } from '../auth/rules-file.js';
import type { CommandContext } from '../context.js';
import { readInputFile } from '../input/read-input.js';
import type { CliIo } from '../output/io.js';
import { renderTable } from '../output/table.js';
import { applyDocuments } from '../routes/apply-documents.js';
import { readStoredRoutes } from '../routes/etcd-routes.js';
import { action, examples } from './command-kit.js';

/** `switchyard auth rules apply|list`: the access rules in etcd, converged like routes. */
export function registerAuthRulesCommands(auth: Command, io: CliIo): void {
  const rules = auth
    .command('rules')
    .summary('apply and list access rules in etcd')
    .description(
      'manage the access rules stored in etcd (/<namespace>/auth/rules/<id>), hot-reloaded by every service and gateway',
    );
  examples(rules, ['switchyard auth rules apply -f rules.yaml', 'switchyard auth rules list']);
  examples(
    rules
      .command('apply')
      .summary('make etcd hold exactly the rules of a file')
      .description(
        'validate every rule of a file, show the diff, then write it (nothing is written if any rule is invalid)',
      )
      .requiredOption(
        '-f, --file <path>',
        'rules file, YAML or JSON: a list of rules or { rules: [...] } (- for stdin)',
      )
      .option('--dry-run', 'show what would change and write nothing')
      .option('--prune', 'also delete rules in etcd that the file does not have')
      .action(action<{ file: string; dryRun?: boolean; prune?: boolean }>(io, applyRules)),
    ['switchyard auth rules apply -f rules.yaml --dry-run', 'switchyard auth rules apply -f rules.yaml --prune'],
  );
  examples(
    rules
      .command('list')
      .description('list the rules in etcd in evaluation order, with any that fail validation marked')
      .action(action(io, listRules)),
    ['switchyard auth rules list', 'switchyard auth rules list --json'],
  );
}

async function applyRules(
  ctx: CommandContext,
  _args: string[],
  opts: { file: string; dryRun?: boolean; prune?: boolean },
): Promise<void> {
  const { text, name } = await readInputFile(ctx.io, opts.file, 'rules file');
  const desired = validateRulesFile(text, name);
  const ns = ctx.settings.namespace;
  await applyDocuments(ctx, {
    name,
    noun: 'rules',
    prefix: rulesPrefix(ns),
    key: (id) => ruleKey(ns, id),
    desired,
    prune: opts.prune === true,
    dryRun: opts.dryRun === true,
  });
}

async function listRules(ctx: CommandContext): Promise<void> {
  const ns = ctx.settings.namespace;
  const stored = await ctx.etcdStep('reading rules from etcd', (c) => readStoredRoutes(c, ns, rulesPrefix(ns)));
  const rows = stored.routes.map((s) => {
    const check = s.value === undefined ? undefined : checkRule(s.value, s.id);
    const problem =
      check === undefined
        ? 'not JSON'
        : check.ok
          ? undefined
          : check.violations.map((v) => `${v.pointer || '/'}: ${v.message}`).join('; ');
    return { id: s.id, rule: check?.ok ? check.rule : undefined, problem, value: s.value };
  });
  // Evaluation order: priority descending, denied first at equal priority, then id.
  rows.sort(
    (a, b) =>
      (b.rule?.priority ?? 0) - (a.rule?.priority ?? 0) ||
      (a.rule?.access === b.rule?.access ? 0 : a.rule?.access === 'denied' ? -1 : 1) ||
      a.id.localeCompare(b.id),
  );
  if (ctx.json) {
    ctx.outJson(
      rows.map((r) => ({
        id: r.id,
        valid: r.problem === undefined,
        ...(r.problem ? { problem: r.problem } : {}),
        rule: r.value,
      })),
    );
    return;
  }
  if (rows.length === 0) {
    ctx.note(`no rules under ${rulesPrefix(ns)}: the built-in default applies (${JSON.stringify(DEFAULT_RULES[0])})`);
    return;
  }
  ctx.out(
    renderTable(rows, [
      { header: 'ID', value: (r) => r.id },
      { header: 'PRIORITY', value: (r) => String(r.rule?.priority ?? (r.rule ? 0 : '')) },
      { header: 'RESOURCE', value: (r) => r.rule?.resource ?? '' },
      {
        header: 'WHO',
        value: (r) =>
          r.rule === undefined
            ? ''
            : r.rule.account !== undefined
              ? `account ${r.rule.account}`
              : r.rule.scope === ''
                ? 'anyone'
                : r.rule.scope === '*'
                  ? 'any account'
                  : `scope ${r.rule.scope}`,
      },
      { header: 'ACCESS', value: (r) => r.rule?.access ?? '' },
      { header: 'STATUS', value: (r) => (r.problem === undefined ? 'ok' : `INVALID: ${r.problem}`) },
    ]),
  );
}
