import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { problemList, runsOneAtATime } from './common-checks';
import { WORKSPACE_ROOT } from './github-files';
import { type Job, parseWorkflow, stepsOf, triggers } from './workflow-model';

const WHERE = '.github/workflows/release.yml';

/** The projects `nx.json` releases (its `release.projects`). */
function releasedProjects(): string[] {
  const nx = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'nx.json'), 'utf8')) as {
    release?: { projects?: string[] };
  };
  return nx.release?.projects ?? [];
}

const scripts = (job: Job) => stepsOf(job).map((step) => step.run ?? '');
/** Every `nx release …` command line of a job. */
const releaseCommands = (job: Job) =>
  scripts(job).flatMap((script) => script.split('\n').filter((line) => /\bnx release\b/.test(line)));

/**
 * The promises of release.yml (the schema, pins and scripts are checked with every workflow): pull requests run
 * the release as a dry run with read-only rights; a real release runs only by hand on main, one at a time, tests
 * and builds the projects nx.json releases before publishing them, and is the only job that may write.
 */
export function releaseProblems(text: string, projects = releasedProjects()): string[] {
  const workflow = parseWorkflow(text);
  const { problems, check } = problemList(WHERE);
  const on = triggers(workflow);
  check(
    Object.keys(on).sort().join(',') === 'pull_request,workflow_dispatch',
    'runs on pull requests (dry run) and by hand (workflow_dispatch), nothing else',
  );
  check(runsOneAtATime(workflow), 'runs one release at a time without cancelling one halfway');
  check(
    typeof workflow.permissions === 'object' &&
      Object.values(workflow.permissions).every((level) => level === 'read'),
    'grants read-only rights at the workflow level',
  );
  const jobs = Object.entries(workflow.jobs);
  const publishing = jobs.filter(([, job]) => releaseCommands(job).some((line) => !/--dry-run\b/.test(line)));
  const dryRuns = jobs.filter(
    ([, job]) =>
      releaseCommands(job).length > 0 && releaseCommands(job).every((line) => /--dry-run\b/.test(line)),
  );
  check(publishing.length === 1, `has one job that releases for real (found ${publishing.length})`);
  for (const [id, job] of publishing) {
    const condition = job.if ?? '';
    check(
      /github\.event_name == 'workflow_dispatch'/.test(condition) &&
        /github\.ref == 'refs\/heads\/main'/.test(condition) &&
        !/pull_request/.test(condition),
      `job ${id} releases only when run by hand on main (if: github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main')`,
    );
    const permissions = typeof job.permissions === 'object' ? job.permissions : {};
    check(
      permissions.packages === 'write' && permissions.contents === 'write',
      `job ${id} may push the release commit and publish (contents: write, packages: write)`,
    );
    check(
      releaseCommands(job).some((line) => /\bnx release publish\b/.test(line)),
      `job ${id} publishes (nx release publish)`,
    );
  }
  const publishingIds = new Set(publishing.map(([id]) => id));
  for (const [id, job] of jobs.filter(([id]) => !publishingIds.has(id))) {
    check(
      job.permissions === undefined ||
        (typeof job.permissions === 'object' &&
          Object.values(job.permissions).every((level) => level === 'read')),
      `job ${id} does not release, so it asks for no write rights`,
    );
  }
  check(
    dryRuns.some(
      ([, job]) =>
        /pull_request/.test(job.if ?? '') &&
        releaseCommands(job).some((line) => /\bnx release publish\b/.test(line)) &&
        releaseCommands(job).some((line) => !/\bnx release publish\b/.test(line)),
    ),
    'dry-runs the version, the changelogs and the publish on pull requests',
  );
  for (const [id, job] of [...publishing, ...dryRuns]) {
    const all = scripts(job).join('\n');
    const firstRelease = scripts(job).findIndex((script) => /\bnx release\b(?! publish)/.test(script));
    const build = scripts(job).findIndex((script) => /\bnx run-many -t build\b/.test(script));
    const publish = scripts(job).findIndex((script) => /\bnx release publish\b/.test(script));
    check(
      build >= 0 && build < publish && (firstRelease < 0 || firstRelease < build),
      `job ${id} builds the packages after versioning and before publishing`,
    );
    for (const project of projects) {
      check(
        new RegExp(`-t (?:[\\w-]+ )*test\\b[^\\n]*-p [^\\n]*\\b${project}\\b`).test(all),
        `job ${id} tests ${project} before releasing it`,
      );
    }
  }
  return problems;
}
