/** What a suite returns to bench/run.ts, written as bench/results/<suite>.json. */
export interface SuiteReport {
  /** How the figures were taken (rounds, best-of, ...). */
  method: string;
  params: Record<string, unknown>;
  figures: Record<string, unknown>;
  /** ours / raw for each headline figure. */
  ratio: Record<string, number>;
  targets: Record<string, string>;
  /** Every target met. */
  met: boolean;
  [extra: string]: unknown;
}
