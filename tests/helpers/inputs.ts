// Inputs as the runner hands them to the action, for tests that call the action's modules
// in-process: the step's `with:` values, else action.yml's defaults (as tools/harness does).
import type { Inputs } from '../../src/common/constants.js';
import type { InputReader } from '../../src/inputs/settings.js';
import { REPO_ROOT } from '../../tools/demo/demo-repo.mjs';
import { readActionYml } from '../../tools/harness/run-action.mjs';

const declared = readActionYml(REPO_ROOT).inputs;

/** An input reader over `given`; an input action.yml does not declare is a test bug, so it throws. */
export function actionInputs(given: Record<string, string>): InputReader {
  for (const name of Object.keys(given)) if (!(name in declared)) throw new Error(`action.yml declares no input '${name}'`);
  return (name: Inputs): string => {
    if (name in given) return given[name];
    const dflt = declared[name]?.default;
    if (dflt === undefined) return '';
    // The one expression among the defaults is github.token; a test step gets no token.
    return /\$\{\{/.test(String(dflt)) ? '' : String(dflt);
  };
}
