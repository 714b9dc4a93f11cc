// The otf-keys sub-action: inputs → per-DB cache keys → outputs and a job summary.
import * as core from '@actions/core';
import { errorMessage, ProblemList } from '../common/errors.js';
import { actionsLog, type Log } from '../common/log.js';
import { writeSummary } from '../results/summary.js';
import { computeKeys } from './compute.js';
import { type OtfInputReader, parseOtfSettings, workflowPath } from './inputs.js';
import { outputValues } from './key-material.js';

const coreOtfInputReader: OtfInputReader = (name) => core.getInput(name);

export async function run(get: OtfInputReader = coreOtfInputReader, log: Log = actionsLog): Promise<void> {
  try {
    const problems = new ProblemList();
    const s = parseOtfSettings(get, process.env, problems);
    for (const note of s.notes) log.warning(`otf-keys: ${note}`);
    const { keys, slayer, encoder } = await computeKeys(s, problems);
    const pin = slayer.map((p) => `${p.name} ${p.version}${p.source ? ` (${p.source})` : ''}`).join(', ');
    log.info(
      `framework ${s.framework} → ${s.artifact}; ${keys.length} DB(s) from ${s.dbSource}; SLayer ${pin}; embedding model ${s.embeddingModel}${s.referenceModel ? `; reference model ${s.referenceModel}` : ''}`,
    );
    const code = `encoder code ${encoder.sha256.slice(0, 12)} (${encoder.files.length} file${encoder.files.length === 1 ? '' : 's'} under ${s.encoderPaths.join(' ')})`;
    log.info(code);
    for (const k of keys) log.info(`${k.db}: ${k.key} → ${k.path}`);

    const values = outputValues({
      keys,
      artifact: s.artifact,
      artifactRoot: workflowPath(s.artifactRoot, s.workspace),
      otfCacheRoot: workflowPath(s.otfCacheRoot, s.workspace),
    });
    for (const [name, value] of Object.entries(values)) core.setOutput(name, value);

    const rows = keys.map((k) => `| \`${k.db}\` | \`${k.key}\` | \`${k.path}\` |`).join('\n');
    await writeSummary(
      `### OTF cache keys (${s.artifact}, ${keys.length} DB${keys.length === 1 ? '' : 's'})\n\nSLayer ${pin}, embedding model \`${s.embeddingModel}\`${s.referenceModel ? `, reference model \`${s.referenceModel}\`` : ''}, ${code}.\n\n| DB | key | path |\n| --- | --- | --- |\n${rows}\n`,
    );
  } catch (e) {
    core.setFailed(`otf-keys: ${errorMessage(e)}`);
  }
}
