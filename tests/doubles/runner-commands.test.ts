// The harness reads a step's stdout as the runner does (tools/harness/run-action.mjs): the tests
// that prove untrusted text cannot act as a command rely on this parser being at least as eager
// as the runner's.
import { describe, expect, it } from 'vitest';
import { consoleView, runnerCommands } from '../../tools/harness/run-action.mjs';

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

describe('consoleView: a step log as a person reads it outside Actions', () => {
  const view = (stdout: string, o?: { debug?: boolean; fold?: boolean }): string[] => {
    const line = consoleView(o);
    return stdout.split('\n').flatMap(line);
  };
  const LOG = [
    'start',
    '::add-mask::s3cret',
    '::group::alien: 33 files',
    'uploaded a.yaml',
    '::warning file=slayer_models/a.yaml::careful%0Anow',
    '::endgroup::',
    '::debug::detail',
    '::set-output name=x::1',
    '::stop-commands::tok',
    '::error::not a command here',
    '::tok::',
    '::notice::done',
  ].join('\n');

  it('shows a group as a heading with its lines folded, annotations always, masks and outputs never', () => {
    expect(view(LOG)).toEqual(['start', '▸ alien: 33 files', 'warning: careful\nnow (slayer_models/a.yaml)', '::error::not a command here', 'notice: done']);
  });

  it('unfolds groups and shows debug lines on request', () => {
    expect(view(LOG, { fold: false, debug: true })).toEqual([
      'start',
      '▸ alien: 33 files',
      '  uploaded a.yaml',
      'warning: careful\nnow (slayer_models/a.yaml)',
      'debug: detail',
      '::error::not a command here',
      'notice: done',
    ]);
  });
});
