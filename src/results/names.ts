// The public names of issue 6 (results, PR comment, gate). They belong in constants.ts's Inputs /
// Outputs enums; until the lead moves them there, this is their one spelling in code.
export const ResultInputs = {
  ReportRunId: 'report-run-id',
  CommentOnPr: 'comment-on-pr',
  GithubToken: 'github-token',
  BaselineRunId: 'baseline-run-id',
  MinPhase1Rate: 'min-phase1-rate',
  MaxErrors: 'max-errors',
} as const;

export const ResultOutputs = {
  N: 'n',
  Phase1Rate: 'phase1-rate',
  Phase2Rate: 'phase2-rate',
  AvgReward: 'avg-reward',
  Errors: 'errors',
  ResultsJson: 'results-json',
} as const;
