// The inputs every mode shares: the runs bucket, the dispatch target (cluster, dashboard, wait)
// and the report (comment, baseline, gate).

import { resolve } from 'node:path';
import * as core from '@actions/core';
import { Defaults, Inputs } from '../common/constants.js';
import { formatProblem, ProblemList } from '../common/errors.js';
import { ROOT_VARIABLES } from '../plan/setup-roots.js';
import type { CommentOnPr } from '../results/comment.js';
import { parseGateInputs } from '../results/gate.js';
import { IMAGE_URI, IN_CLUSTER_PATH, PROJECT, REGION, SERVICE_ACCOUNT, ZONE } from './gce.js';
import { FALSE, type InputReader, Reader, TRUE } from './reader.js';
import { runIdProblem } from './run-id.js';
import { CLUSTER_MODES, type CommonSettings, type DispatchSettings, type ReportSettings } from './settings.js';

const ON_WAIT_TIMEOUT = ['stop', 'leave'] as const;
/** The most runs a trend draws: their labels share the chart's width (docs/results.md#run-history). */
const MAX_TREND_RUNS = 30;
const CODE_SOURCES = ['checkout', 'image'] as const;

/** A registry host name, with an optional port. */
const REGISTRY_HOST = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?$/;

/** An HTTP header name (an RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** How to talk to the dashboard: auth headers (masked as read) and TLS verification. */
function readRayConnection(r: Reader, mask: (v: string) => void): { rayHeaders: Record<string, string>; tlsVerify: boolean } {
  const rayHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.jsonObject(Inputs.RayHeaders, { secret: true }))) {
    if (typeof v !== 'string') {
      r.problems.add(Inputs.RayHeaders, `the value of header '${k}' is not a string`, 'give a JSON object of header name to string value');
      continue;
    }
    mask(v);
    // HTTP would refuse these later, blaming the request: name the input now (never the value).
    if (!HEADER_NAME.test(k)) {
      r.problems.add(Inputs.RayHeaders, `'${k}' is not a valid HTTP header name`, 'use header names of letters, digits and - only, e.g. Authorization');
      continue;
    }
    if (/[\r\n\0]/.test(v)) {
      r.problems.add(Inputs.RayHeaders, `the value of header '${k}' contains a line break or NUL`, 'remove the trailing newline from the secret that holds it');
      continue;
    }
    rayHeaders[k] = v;
  }
  const tls = r.str(Inputs.RayTlsVerify);
  if (tls !== '' && !TRUE.includes(tls) && !FALSE.includes(tls)) {
    r.problems.add(
      Inputs.RayTlsVerify,
      `'${tls}' is not a boolean`,
      'use true, or false to skip certificate checks; for a private CA set NODE_EXTRA_CA_CERTS in the step env',
    );
  }
  return { rayHeaders, tlsVerify: !FALSE.includes(tls) };
}

/** What the post step reads of the inputs. It only warns, so problems come back as text. */
export interface PostSettings {
  /** The `cluster` input as given: the post step tears down only when it is `ephemeral`. */
  cluster: string;
  /** The dashboard address (no trailing slash): the only address the post step sends a request to. */
  rayAddress: string;
  rayHeaders: Record<string, string>;
  tlsVerify: boolean;
  rayCli: string;
  problems: string[];
}

export function parsePostSettings(get: InputReader, mask: (v: string) => void = core.setSecret): PostSettings {
  const problems = new ProblemList();
  const r = new Reader(get, problems);
  const c = readRayConnection(r, mask);
  return {
    cluster: r.str(Inputs.Cluster),
    rayAddress: normalizeAddress(r.str(Inputs.RayAddress)),
    rayCli: r.str(Inputs.RayCli) || 'ray',
    ...c,
    problems: problems.items.map(formatProblem),
  };
}

/** A dashboard URL without trailing slashes, as the action uses and records it. */
function normalizeAddress(address: string): string {
  return address.replace(/\/+$/, '');
}

function parseDispatch(r: Reader, mask: (v: string) => void): DispatchSettings {
  const rayAddress = normalizeAddress(r.str(Inputs.RayAddress));
  // Unset: where the inputs point. A step that names a dashboard means to dispatch to it.
  const clusterSource = r.str(Inputs.Cluster) ? 'input' : 'derived';
  const cluster = r.oneOf(Inputs.Cluster, CLUSTER_MODES, rayAddress ? 'existing' : 'none');
  if (cluster === 'existing' && !rayAddress) {
    r.problems.add(Inputs.RayAddress, 'is required when cluster is existing', 'set ray-address to the Ray dashboard URL, e.g. http://ray-head:8265');
  } else if (rayAddress) {
    let url: URL | null = null;
    try {
      url = new URL(rayAddress);
    } catch {
      url = null;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol))
      r.problems.add(Inputs.RayAddress, `'${rayAddress}' is not an http(s) URL`, 'use the dashboard URL, e.g. http://ray-head:8265');
    else if (url.username || url.password)
      r.problems.add(Inputs.RayAddress, 'carries credentials in the URL', 'move them into ray-headers (masked), e.g. {"Authorization": "Bearer <token>"}');
    else if (url.search || url.hash)
      r.problems.add(
        Inputs.RayAddress,
        'has a query string or fragment, which would be recorded in the manifest and the logs',
        'give the dashboard URL only, and credentials in ray-headers',
      );
  }
  const { rayHeaders, tlsVerify } = readRayConnection(r, mask);
  const runtimeEnv = r.jsonObject(Inputs.RuntimeEnv);
  const envVars = runtimeEnv.env_vars;
  if (
    envVars !== undefined &&
    (typeof envVars !== 'object' || envVars === null || Array.isArray(envVars) || Object.values(envVars).some((v) => typeof v !== 'string'))
  ) {
    r.problems.add(Inputs.RuntimeEnv, 'env_vars must be an object of string values (Ray fails the job after submit otherwise)', 'quote every env_vars value');
  } else if (envVars !== undefined) {
    const taken = Object.values(ROOT_VARIABLES).filter((name) => Object.hasOwn(envVars as object, name));
    if (taken.length > 0) {
      r.problems.add(
        Inputs.RuntimeEnv,
        `env_vars sets ${taken.join(', ')}, which this action sets itself (a run's setup roots; on an existing cluster, per run)`,
        'remove them from runtime-env; set cluster-scratch-root to move the per-run roots',
      );
    }
  }
  // The checkout's code travels with the job to an existing cluster; a per-run cluster's image is
  // built from the checkout already, and with cluster none nothing runs.
  const code = r.oneOf(Inputs.Code, CODE_SOURCES, cluster === 'existing' ? 'checkout' : 'image');
  if (code === 'checkout' && cluster !== 'existing' && r.str(Inputs.Code) !== '') {
    r.problems.add(
      Inputs.Code,
      `checkout needs cluster existing (cluster is ${cluster})`,
      cluster === 'ephemeral'
        ? 'leave code unset: the per-run cluster builds its image from the checkout'
        : 'set cluster: existing with ray-address, or code: image',
    );
  }
  const clusterScratchRoot = (r.str(Inputs.ClusterScratchRoot) || Defaults.clusterScratchRoot).replace(/\/+$/, '');
  if (!IN_CLUSTER_PATH.test(clusterScratchRoot) || clusterScratchRoot === '') {
    r.problems.add(
      Inputs.ClusterScratchRoot,
      `'${clusterScratchRoot}' is not an absolute in-cluster path of plain characters`,
      `use a directory such as ${Defaults.clusterScratchRoot}`,
    );
  }
  const region = r.str(Inputs.Region) || Defaults.region;
  if (!REGION.test(region)) r.problems.add(Inputs.Region, `'${region}' is not a GCE region`, 'use a region such as us-central1');
  const zone = r.str(Inputs.Zone) || `${region}-a`;
  const zm = ZONE.exec(zone);
  if (!zm) r.problems.add(Inputs.Zone, `'${zone}' is not a GCE zone`, 'use a zone such as us-central1-a');
  else if (zm[1] !== region) r.problems.add(Inputs.Zone, `zone '${zone}' is not in region '${region}'`, `use a zone of ${region}, or set region to ${zm[1]}`);
  const workerSa = r.str(Inputs.WorkerSa);
  if (workerSa && !SERVICE_ACCOUNT.test(workerSa))
    r.problems.add(Inputs.WorkerSa, `'${workerSa}' is not a service account email`, 'use NAME@PROJECT.iam.gserviceaccount.com');
  const imageUri = r.str(Inputs.ImageUri);
  if (imageUri && !IMAGE_URI.test(imageUri))
    r.problems.add(Inputs.ImageUri, `'${imageUri}' is not an image reference with a tag or digest`, 'use REGION-docker.pkg.dev/PROJECT/REPO/IMAGE:TAG');
  const rayVersion = r.str(Inputs.RayVersion);
  if (rayVersion && !/^\d+\.\d+\.\d+$/.test(rayVersion))
    r.problems.add(Inputs.RayVersion, `'${rayVersion}' is not a pinned version`, 'pin the Ray of the image, e.g. 2.47.1');
  const rayCli = r.str(Inputs.RayCli) || 'ray';
  const imageRegistries = r.lines(Inputs.ImageRegistries, []);
  for (const host of imageRegistries) {
    if (!REGISTRY_HOST.test(host))
      r.problems.add(Inputs.ImageRegistries, `'${host}' is not a registry host`, 'give host names (with an optional :port), e.g. ghcr.io');
  }
  return {
    gce: { region, zone, workerSa, imageUri, imageRegistries, rayVersion, rayCli },
    allowInsecureRayAddress: r.bool(Inputs.AllowInsecureRayAddress, false),
    cluster,
    clusterSource,
    rayAddress,
    rayHeaders,
    tlsVerify,
    entrypointPrefix: r.str(Inputs.EntrypointPrefix),
    code,
    clusterScratchRoot,
    onWaitTimeout: r.oneOf(Inputs.OnWaitTimeout, ON_WAIT_TIMEOUT, 'stop'),
    runtimeEnv,
    wait: r.bool(Inputs.Wait, false),
    waitTimeoutMs: r.int(Inputs.WaitTimeoutMinutes, Defaults.waitTimeoutMinutes, 1, 72 * 60) * 60_000,
    noProgressMs: r.int(Inputs.NoProgressMinutes, Defaults.noProgressMinutes, 1, 72 * 60) * 60_000,
    pollIntervalMs: r.int(Inputs.PollIntervalSeconds, Defaults.pollIntervalSeconds, 1, 3600) * 1000,
  };
}

function parseReport(r: Reader, mask: (v: string) => void): ReportSettings {
  const token = r.str(Inputs.GithubToken);
  if (token) mask(token);
  const c = r.str(Inputs.CommentOnPr) || 'auto';
  const commentOnPr: CommentOnPr = c === 'auto' ? 'auto' : TRUE.includes(c) ? true : FALSE.includes(c) ? false : 'auto';
  if (!['auto', ...TRUE, ...FALSE].includes(c))
    r.problems.add(Inputs.CommentOnPr, `'${c}' is not auto, true or false`, 'use auto (comment on pull_request events), true or false');
  const baselineRunId = r.str(Inputs.BaselineRunId);
  if (baselineRunId) {
    const p = runIdProblem(baselineRunId);
    if (p) r.problems.add(Inputs.BaselineRunId, p, 'give the run id of an earlier run in the same bucket');
  }
  const gate = parseGateInputs(r.str(Inputs.MinPhase1Rate), r.str(Inputs.MaxErrors));
  for (const p of gate.problems) r.problems.add(p.input, p.message, p.fix);
  const trendRuns = r.int(Inputs.TrendRuns, 0, 0, MAX_TREND_RUNS);
  return { token, commentOnPr, commentKey: r.str(Inputs.CommentKey), baselineRunId, thresholds: gate.thresholds, trendRuns };
}

export interface CommonOptions {
  /** The modes that need the bucket even in a dry run (a rerun, a report, a list), named in the problem; null: a submit. */
  bucketRequiredFor: string | null;
  /** core.setSecret; injectable for tests. */
  mask: (value: string) => void;
}

/** What every mode reads: where things are, the bucket, the dispatch target and the report. */
export function parseCommon(reader: Reader, env: NodeJS.ProcessEnv, options: CommonOptions): CommonSettings {
  const { bucketRequiredFor, mask } = options;
  const workspace = env.GITHUB_WORKSPACE || process.cwd();
  const runnerTemp = env.RUNNER_TEMP || resolve(workspace, '..', '.runner-temp');
  const dryRun = reader.bool(Inputs.DryRun, false);
  const gcsBucket = reader
    .str(Inputs.GcsBucket)
    .replace(/^gs:\/\//, '')
    .replace(/\/+$/, '');
  if (!gcsBucket && (bucketRequiredFor !== null || !dryRun)) {
    reader.problems.add(
      Inputs.GcsBucket,
      bucketRequiredFor !== null ? `is required for ${bucketRequiredFor}` : 'is required unless dry-run is true',
      'set gcs-bucket to the runs bucket (name only, without gs://)',
    );
  }
  if (gcsBucket && !/^[a-z0-9][-a-z0-9_.]{1,220}[a-z0-9]$/.test(gcsBucket))
    reader.problems.add(Inputs.GcsBucket, `'${gcsBucket}' is not a valid bucket name`, 'use the bucket name only, e.g. my-runs-bucket');
  const gcpProject = reader.str(Inputs.GcpProject);
  if (gcpProject && !PROJECT.test(gcpProject))
    reader.problems.add(
      Inputs.GcpProject,
      `'${gcpProject}' is not a GCP project id`,
      'use the project id (6 to 30 lowercase letters, digits and dashes), not its name or number',
    );
  const dispatch = parseDispatch(reader, mask);
  const report = parseReport(reader, mask);
  if (dispatch.cluster === 'ephemeral' && !gcpProject)
    reader.problems.add(Inputs.GcpProject, 'is required when cluster is ephemeral', 'set gcp-project to the project the per-run cluster runs in');
  return {
    dryRun,
    gcsBucket,
    gcpProject,
    uploadConcurrency: reader.int(Inputs.UploadConcurrency, Defaults.uploadConcurrency, 1, 256),
    dispatch,
    report,
    workspace,
    runnerTemp,
  };
}
