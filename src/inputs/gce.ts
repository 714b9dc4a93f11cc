// The shapes of GCE and Artifact Registry values, one definition for the preflight and for the
// cluster YAML (which re-checks a stored manifest's values before they reach a VM's shell).

export const REGION = /^[a-z]+-[a-z]+[0-9]+$/;
/** A zone; group 1 is its region. */
export const ZONE = /^([a-z]+-[a-z]+[0-9]+)-[a-z]$/;
export const MACHINE_TYPE = /^[a-z][a-z0-9]*-[a-z0-9]+(-[a-z0-9]+)*$/;
export const PROJECT = /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/;
export const SERVICE_ACCOUNT = /^[a-z0-9][-a-z0-9]*@[-a-z0-9.]+\.gserviceaccount\.com$/;
/** host[:port]/path[:tag|@digest], nothing a shell or YAML would read specially. */
export const IMAGE_URI = /^[a-z0-9.-]+(:[0-9]+)?\/[a-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$/;
/** Upper bounds of the cluster's size: a typo must not ask GCE for thousands of VMs. */
export const WORKERS_MAX = 256;
export const ACTORS_PER_WORKER_MAX = 64;
/** An in-cluster path of plain characters (it reaches the job's argv and its environment). */
export const IN_CLUSTER_PATH = /^\/[A-Za-z0-9._/-]*$/;
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
