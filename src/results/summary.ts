// What people read: the plan in the log, and the plan's and the upload's sections of the job
// summary (step-summary.ts assembles them).
import * as core from '@actions/core';
import { formatBytes } from '../common/format.js';
import type { Log } from '../common/log.js';
import { listIds } from '../inputs/instance-ids.js';
import type { RunPlan } from '../plan/plan.js';
import { code } from './render.js';
import type { DetailSection } from './step-summary.js';

/** How many ids the log shows before the count, where a line would otherwise run on. */
const LOG_IDS_SHOWN = 5;

/** The job's command line for the log: the instance ids abbreviated (the plan file has them all). */
export function abbreviatedJobArgs(args: readonly string[]): string {
  const out = [...args];
  const i = out.indexOf('--instance-ids');
  if (i >= 0 && i + 1 < out.length) {
    const ids = out[i + 1].split(',');
    if (ids.length > LOG_IDS_SHOWN) out[i + 1] = `${ids.slice(0, LOG_IDS_SHOWN).join(',')},… (${ids.length} ids)`;
  }
  return out.join(' ');
}

function instancesPerDb(plan: RunPlan): Map<string, number> {
  const m = new Map<string, number>();
  for (const db of Object.values(plan.instanceDbs)) m.set(db, (m.get(db) ?? 0) + 1);
  return m;
}

/** The plan in the log, one group per DB. */
export async function logPlan(log: Log, plan: RunPlan): Promise<void> {
  const s = plan.settings;
  log.info(`run id: ${plan.runId} (attempt ${plan.attempt}, submission ${plan.submissionId})`);
  log.info(`combo: framework=${s.framework} query-mode=${s.queryMode} mode=${s.mode} slayer-setup=${s.slayerSetup}`);
  log.info(`models: agent=${s.agentModel} user-sim=${s.userSimModel}; keys needed: ${plan.requiredKeys.join(', ') || 'none'}`);
  log.info(
    `instances: ${s.instanceIds.length} in ${plan.dbs.length} DB(s); artifact: ${plan.artifact ? `${plan.artifact.kind} from ${plan.artifact.root}` : 'none (raw mode uploads nothing)'}`,
  );
  const perDb = instancesPerDb(plan);
  const byDb = new Map(plan.artifacts.map((a) => [a.db, a]));
  const files = plan.artifacts.reduce((n, a) => n + a.files.length, 0);
  const bytes = plan.artifacts.reduce((n, a) => n + a.bytes, 0);
  // One folded group, one line per DB in it; each file only at debug level.
  await log.group(`plan: ${plan.dbs.length} DB(s), ${files} files, ${formatBytes(bytes)}`, async () => {
    for (const db of plan.dbs) {
      const a = byDb.get(db);
      const ids = Object.entries(plan.instanceDbs)
        .filter(([, d]) => d === db)
        .map(([id]) => id);
      log.info(`${db}: ${perDb.get(db) ?? 0} instance(s) (${listIds(ids, LOG_IDS_SHOWN)})${a ? `, ${a.files.length} files, ${formatBytes(a.bytes)}` : ''}`);
      // core.debug escapes line breaks, so a file name cannot start a command there.
      for (const f of a?.files ?? []) log.debug(`${db}/${f.path}  ${f.size} B  md5=${f.md5}`);
    }
  });
  log.info(`job arguments: ${abbreviatedJobArgs(plan.jobArgs)}`);
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The plan's section: the attempt, the cluster and the code, then a table per DB (instances,
 * files, bytes). The combo and the models are the summary's own facts (they appear once).
 */
export function planSection(plan: RunPlan): DetailSection {
  const s = plan.settings;
  const perDb = instancesPerDb(plan);
  const byDb = new Map(plan.artifacts.map((a) => [a.db, a]));
  // DB names come from the inputs and the checkout: code spans.
  const rows = plan.dbs.map((db) => {
    const a = byDb.get(db);
    return [code(db), String(perDb.get(db) ?? 0), a ? String(a.files.length) : '0', a ? formatBytes(a.bytes) : '0 B'];
  });
  const totalFiles = plan.artifacts.reduce((n, a) => n + a.files.length, 0);
  const totalBytes = plan.artifacts.reduce((n, a) => n + a.bytes, 0);
  rows.push(['**total**', String(s.instanceIds.length), String(totalFiles), formatBytes(totalBytes)]);
  const artifact = plan.artifact ? `${plan.artifact.kind}: ${plural(totalFiles, 'file')}, ${formatBytes(totalBytes)}` : 'raw mode: nothing to upload';
  const body = [
    `- attempt ${plan.attempt}, submission ${code(plan.submissionId)}`,
    `- cluster: ${s.dispatch.cluster}${s.dispatch.clusterSource === 'derived' ? ' (the cluster input was unset)' : ''}`,
    `- code: ${plan.code.source === 'checkout' ? `the checkout's src/ at ${code(plan.code.sha.slice(0, 12) || 'HEAD')} (${plural(plan.code.files.length, 'file')} travel with the job)` : "the cluster's image"}`,
    ...(plan.worktree.dirty.length > 0 ? [`- :warning: dirty worktree (allow-dirty): ${plural(plan.worktree.dirty.length, 'path')}`] : []),
    '',
    markdownTable(['DB', 'instances', 'files', 'bytes'], rows),
  ].join('\n');
  return { line: `Plan: ${plural(s.instanceIds.length, 'instance')} in ${plural(plan.dbs.length, 'DB')}; ${artifact}`, body };
}

export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await core.summary.addRaw(markdown, true).write();
}

export interface UploadReport {
  manifestUri: string;
  manifest: 'written' | 'same';
  dbs: Array<{ db: string; files: number; uploaded: number; skipped: number; replaced: number; removed: number; bytes: number }>;
}

/** The upload's section: per DB, what moved and what was already there, then the manifest. */
export function uploadSection(plan: RunPlan, report: UploadReport): DetailSection {
  const changed = report.dbs.some((d) => d.replaced + d.removed > 0);
  const rows = report.dbs.map((d) => [
    code(d.db),
    String(d.files),
    String(d.uploaded),
    String(d.skipped),
    ...(changed ? [d.replaced + d.removed > 0 ? `${d.replaced} replaced, ${d.removed} removed` : ''] : []),
    formatBytes(d.bytes),
  ]);
  const sum = (k: 'files' | 'uploaded' | 'skipped' | 'bytes'): number => report.dbs.reduce((n, d) => n + d[k], 0);
  rows.push(['**total**', String(sum('files')), String(sum('uploaded')), String(sum('skipped')), ...(changed ? [''] : []), formatBytes(sum('bytes'))]);
  const manifest = report.manifest === 'written' ? 'manifest committed' : 'manifest already committed for this same plan';
  const body = [
    plan.artifact
      ? markdownTable(['DB', 'files', 'uploaded', 'skipped (same md5)', ...(changed ? ['changed'] : []), 'bytes uploaded'], rows)
      : 'Raw mode: nothing to upload.',
    '',
    `Manifest: ${code(report.manifestUri)} (${report.manifest === 'written' ? 'committed by this step' : 'already committed for this same plan'})`,
  ].join('\n');
  const line = plan.artifact
    ? `Upload of ${plan.artifact.kind}: ${sum('uploaded')} uploaded, ${sum('skipped')} already there, ${formatBytes(sum('bytes'))}; ${manifest}`
    : `Upload: nothing (raw mode); ${manifest}`;
  return { line, body };
}
