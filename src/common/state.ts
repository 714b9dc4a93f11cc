// What the main step leaves for its post step (`post-if: always()`), with typed save and load.
// The post step stops a job the main step was waiting on and tears down a per-run cluster the
// main step did not, so what it loads is checked for shape before it is used.

import { isAbsolute, resolve, sep } from 'node:path';
import * as core from '@actions/core';
import { PROJECT, ZONE } from '../inputs/gce.js';
import { runIdProblem } from '../inputs/run-id.js';
import { State } from './constants.js';

/** `waiting` while the main step waits on the job; `detached` (wait: false); `done` once it needs no stop. */
export type WaitStatus = 'waiting' | 'detached' | 'done';
const WAIT_STATUSES: readonly WaitStatus[] = ['waiting', 'detached', 'done'];

/** `pending` from just before `ray up`; `detached` after a successful wait: false submit; `done` once it is gone. */
export type TeardownStatus = 'pending' | 'detached' | 'done';
const TEARDOWN_STATUSES: readonly TeardownStatus[] = ['pending', 'detached', 'done'];

/** The dispatched job. */
export interface JobState {
  submissionId: string;
  /** The dashboard the job was submitted to. */
  rayAddress: string;
  wait: WaitStatus;
}

/** A per-run cluster: what the post step needs to tear it down. */
export interface ClusterState {
  runId: string;
  /** The rendered cluster YAML (in the per-run directory under RUNNER_TEMP). */
  yamlPath: string;
  /** The `ray-cli` input. */
  rayCli: string;
  /** For `gcloud --project` and the messages. */
  project: string;
  zone: string;
  /** The marker file that records a finished (or detached) teardown. */
  markerPath: string;
  /** ISO time by which the self-delete timer removes the VMs (bring-up + max-runtime-hours). */
  selfDeleteBy?: string;
}

/** The runner's state, injectable in tests. */
export interface StateStore {
  save(key: State, value: string): void;
  load(key: State): string;
}

const actionsState: StateStore = {
  save: (key, value) => core.saveState(key, value),
  load: (key) => core.getState(key),
};

/** A saved entry that does not have the shape this action writes. */
class StateError extends Error {
  constructor(key: State, why: string) {
    super(`the saved state ${key} ${why}; ignoring it`);
    this.name = 'StateError';
  }
}

const CLUSTER_VERSION = 1;
const SUBMISSION_ID = /^bird-[a-z0-9][-a-z0-9]*-a[1-9][0-9]*$/;

function under(dir: string, path: string): boolean {
  return dir !== '' && isAbsolute(path) && resolve(path).startsWith(resolve(dir) + sep);
}

/** Why a saved cluster is not one this action wrote for this step, or null. */
function clusterStateProblem(c: ClusterState, expected: { runnerTemp: string; rayCli: string }): string | null {
  if (runIdProblem(c.runId)) return 'names an invalid run id';
  if (!under(expected.runnerTemp, c.yamlPath) || !under(expected.runnerTemp, c.markerPath)) return 'names files outside RUNNER_TEMP';
  if (c.rayCli !== expected.rayCli) return 'names another ray CLI than the ray-cli input';
  if (c.project !== '' && !PROJECT.test(c.project)) return 'names a project of the wrong shape';
  if (c.zone !== '' && !ZONE.test(c.zone)) return 'names a zone of the wrong shape';
  return null;
}

export class ActionState {
  constructor(private readonly store: StateStore = actionsState) {}

  /** Saved before the submit request, so a step killed mid-submit still leaves the job to stop. */
  saveJob(job: JobState): void {
    this.store.save(State.SubmissionId, job.submissionId);
    this.store.save(State.RayAddress, job.rayAddress);
    this.store.save(State.WaitStatus, job.wait);
  }

  setWait(status: WaitStatus): void {
    this.store.save(State.WaitStatus, status);
  }

  /** The dispatched job, or null when nothing was dispatched. Throws StateError on an entry this action would not write. */
  loadJob(): JobState | null {
    const submissionId = this.store.load(State.SubmissionId);
    if (!submissionId) return null;
    if (!SUBMISSION_ID.test(submissionId)) throw new StateError(State.SubmissionId, 'is not a submission id this action writes');
    const rayAddress = this.store.load(State.RayAddress);
    if (!/^https?:\/\/\S+$/.test(rayAddress)) throw new StateError(State.RayAddress, 'is not an http(s) address');
    const wait = this.store.load(State.WaitStatus);
    return { submissionId, rayAddress, wait: (WAIT_STATUSES as readonly string[]).includes(wait) ? (wait as WaitStatus) : 'detached' };
  }

  /** Saved right before `ray up`, with the teardown pending. */
  saveCluster(cluster: ClusterState): void {
    this.store.save(State.EphemeralCluster, JSON.stringify({ v: CLUSTER_VERSION, ...cluster }));
    this.setTeardown('pending');
  }

  setTeardown(status: TeardownStatus): void {
    this.store.save(State.ClusterTeardown, status);
  }

  /**
   * The per-run cluster and its teardown status, or null when the run had none. The post step
   * runs `ray down` and `gcloud ... delete` from it, so every field must have the shape this action
   * writes: a valid run id, files under RUNNER_TEMP, the `ray-cli` input, a project and zone of
   * GCE's shape. Anything else throws StateError.
   */
  loadCluster(expected: { runnerTemp: string; rayCli: string }): { cluster: ClusterState; teardown: TeardownStatus | null } | null {
    const raw = this.store.load(State.EphemeralCluster);
    if (!raw) return null;
    let s: Partial<ClusterState> & { v?: unknown };
    try {
      s = JSON.parse(raw) as Partial<ClusterState> & { v?: unknown };
    } catch {
      throw new StateError(State.EphemeralCluster, 'is not JSON');
    }
    if (
      s.v !== CLUSTER_VERSION ||
      typeof s.runId !== 'string' ||
      typeof s.yamlPath !== 'string' ||
      typeof s.rayCli !== 'string' ||
      typeof s.markerPath !== 'string'
    ) {
      throw new StateError(State.EphemeralCluster, 'is not a cluster this version wrote');
    }
    const cluster: ClusterState = {
      runId: s.runId,
      yamlPath: s.yamlPath,
      rayCli: s.rayCli,
      project: typeof s.project === 'string' ? s.project : '',
      zone: typeof s.zone === 'string' ? s.zone : '',
      markerPath: s.markerPath,
      selfDeleteBy: typeof s.selfDeleteBy === 'string' ? s.selfDeleteBy : undefined,
    };
    const why = clusterStateProblem(cluster, expected);
    if (why) throw new StateError(State.EphemeralCluster, why);
    const status = this.store.load(State.ClusterTeardown);
    return { cluster, teardown: (TEARDOWN_STATUSES as readonly string[]).includes(status) ? (status as TeardownStatus) : null };
  }
}
