export const DISPATCH_RUN_JOB = "run.dispatch";
