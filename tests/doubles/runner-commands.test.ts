// The harness reads a step's stdout as the runner does (tools/harness/run-action.mjs): the tests
// that prove untrusted text cannot act as a command rely on this parser being at least as eager
// as the runner's.
import { describe, expect, it } from 'vitest';
import { runnerCommands } from '../../tools/harness/run-action.mjs';

const names = (stdout: string): string[] => runnerCommands(stdout).map((c) => `${c.form}:${c.command}:${c.data}`);

describe('runnerCommands', () => {
  it('reads `::command::` after trimming, with properties, on lines split by \\n, \\r and \\r\\n', () => {
    expect(names('a\n  ::warning file=x.ts,line=3::careful\r::add-mask::s1\r\n::debug::d')).toEqual(['v2:warning:careful', 'v2:add-mask:s1', 'v2:debug:d']);
    expect(runnerCommands('::warning file=x.ts,line=3::m')[0].properties).toEqual({ file: 'x.ts', line: '3' });
  });

  it('reads the legacy `##[command]` anywhere in a line', () => {
    expect(names('downloading ##[save-state name=k;]v\n##[add-mask]secret')).toEqual(['legacy:save-state:v', 'legacy:add-mask:secret']);
    expect(runnerCommands('x ##[save-state name=k;]v')[0].properties).toEqual({ name: 'k' });
  });

  it('ignores unknown commands and plain text', () => {
    expect(names('::nope::x\nplain :: text\n| ::warning::shown')).toEqual([]);
  });

  it('processes nothing between stop-commands and its token, then resumes', () => {
    expect(names('::stop-commands::tok\n::warning::no\n##[add-mask]no\n::tok::\n::warning::yes')).toEqual(['v2:warning:yes']);
  });

  it('unescapes data the way core escapes it', () => {
    expect(names('::error::line1%0Aline2 100%25')).toEqual(['v2:error:line1\nline2 100%']);
  });
});
