export const REPO_ROOT: string;
export const FIXTURE_MODELS: string;
export function fixtureDbs(): string[];
export function git(cwd: string, args: string[]): string;
export interface DemoRepo {
  workspace: string;
  miniInteractRoot: string;
  datasetFile: string;
  dbs: string[];
  idsByDb: Record<string, string[]>;
  allIds: string[];
}
export function makeDemoRepo(o: { dir: string; dbs?: string[]; idsPerDb?: number }): DemoRepo;
