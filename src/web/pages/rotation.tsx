/**
 * Rotation on the inventory entry page (issue 16): the "Rotate" button (Maintainers and Owners; the new
 * secret shown once in the answer, with the job's steps), the entry's rotation jobs (state, trigger,
 * steps with their times and details such as "still used from …"), and its open rotation tasks — manual
 * placements a rotation left to a person — with "Reveal new secret" (the job's pending secret, shown
 * once in the answer) and "Mark done". Every answer is `Cache-Control: no-store`. The forms post with
 * CSRF to the routes below, which call the same services as the API (rotation-service.ts, rotation-tasks.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describePlacement, type Placement } from '../../inventory/credential.js';
import type { RotationJob, StartedRotation } from '../../rotation/contracts.js';
import type { RotationTask } from '../../rotation/rotation-task-store.js';
import { CsrfField, Notice, TableWrap } from '../html.js';
import { CopyField, formatInstant, NewSecretPanel } from '../token-views.js';
import type { WebContext } from '../web-context.js';
import { requireSignIn } from '../web-session.js';
import { errorText, type WebPageTools } from '../web-tools.js';

/** What the entry page shows of rotation: open tasks, a just-revealed secret, a refusal. */
export interface RotationExtras {
  readonly revealed?: { readonly task: RotationTask; readonly secret: string };
  readonly taskError?: string;
  /** The answer to "Rotate": the job, and its new secret when this request started it. */
  readonly rotated?: StartedRotation;
  readonly rotateError?: string;
}

const STEP_LABELS: Record<RotationJob['steps'][number]['kind'], string> = {
  renew: 'Renew the secret',
  write: 'Write',
  verify: 'Verify',
  tasks: 'Tasks for manual placements',
  retire: 'Retire the old secret',
  finish: 'Wipe the pending secret',
};

function JobSteps({ job, placements }: { job: RotationJob; placements: ReadonlyMap<number, Placement> }) {
  return (
    <TableWrap label={`Steps of rotation #${job.id}`}>
      <table>
        <caption>{`Steps of rotation #${job.id}`}</caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">State</th>
            <th scope="col">Started</th>
            <th scope="col">Finished</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {job.steps.map((step) => {
            const p = step.placementId === null ? undefined : placements.get(step.placementId);
            return (
              <tr>
                <th scope="row">{`${STEP_LABELS[step.kind]}${step.placementId === null ? '' : `: ${p ? describePlacement(p) : `placement #${step.placementId}`}`}`}</th>
                <td>{step.state}</td>
                <td>{step.startedAt ? formatInstant(step.startedAt) : '-'}</td>
                <td>{step.finishedAt ? formatInstant(step.finishedAt) : '-'}</td>
                <td>{step.detail ?? ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableWrap>
  );
}

/** The Rotate button, what it answered (the new secret once), and the entry's latest rotation jobs. */
export function RotationJobsSection({ entryPath, jobs, placements, canRotate, csrf, extras }: { entryPath: string; jobs: readonly RotationJob[]; placements: readonly Placement[]; canRotate: boolean; csrf: string; extras: RotationExtras }) {
  const byId = new Map(placements.map((p) => [p.id, p]));
  const rotated = extras.rotated;
  return (
    <section aria-labelledby="rotations-heading">
      <h2 id="rotations-heading">Rotation</h2>
      {canRotate && (
        <form method="post" action={`${entryPath}/rotate`} class="card">
          <CsrfField token={csrf} />
          <p class="help">One rotation does the whole procedure: a new secret, written to every automatic placement and read back, a task for each manual placement, and the old secret revoked once it is quiet or its grace period ends.</p>
          <button type="submit" class="primary">Rotate</button>
        </form>
      )}
      {extras.rotateError && <Notice kind="error">{extras.rotateError}</Notice>}
      {rotated && rotated.secret !== null && <NewSecretPanel created={{ heading: `New secret of rotation #${rotated.job.id}`, secret: rotated.secret, snippets: [] }} />}
      {rotated && rotated.secret === null && <Notice kind="info">{`A rotation of this entry is already under way (#${rotated.job.id}): it is shown below. Its new secret was shown to whoever started it; a task's "Reveal new secret" shows it while the rotation holds it.`}</Notice>}
      {jobs.length === 0 ? (
        <p>Never rotated by Latchkey.</p>
      ) : (
        jobs.map((job) => (
          <div class="card">
            <h3>{`Rotation #${job.id}: ${job.state}`}</h3>
            <p>
              {`Started ${formatInstant(job.createdAt)} (${job.trigger})`}
              {job.finishedAt && `; finished ${formatInstant(job.finishedAt)}`}
            </p>
            {job.failure && <Notice kind="error">{`Failed: ${job.failure}`}</Notice>}
            <JobSteps job={job} placements={byId} />
          </div>
        ))
      )}
    </section>
  );
}

const taskPath = (entryPath: string, task: RotationTask, action: 'done' | 'reveal') => `${entryPath}/tasks/${task.id}/${action}`;

/** A task's form: one button, named for its task (screen readers hear which one). */
function TaskButton({ action, csrf, text, label, primary = false }: { action: string; csrf: string; text: string; label: string; primary?: boolean }) {
  return (
    <form method="post" action={action} class="inline">
      <CsrfField token={csrf} />
      <button type="submit" class={primary ? 'primary' : undefined} aria-label={label}>
        {text}
      </button>
    </form>
  );
}

export function RotationTasksSection({ entryPath, tasks, manage, csrf, extras }: { entryPath: string; tasks: readonly RotationTask[]; manage: boolean; csrf: string; extras: RotationExtras }) {
  return (
    <section aria-labelledby="tasks-heading">
      <h2 id="tasks-heading">Rotation tasks</h2>
      <p class="help">Places only a person can update: after a rotation, paste the new secret there as the renewal procedure says, then mark the task done. The owning group's Maintainers and Owners are reminded daily until then.</p>
      {extras.taskError && <Notice kind="error">{extras.taskError}</Notice>}
      {extras.revealed && (
        <section class="card secret" aria-labelledby="revealed-heading">
          <h3 id="revealed-heading">{`New secret for: ${extras.revealed.task.where}`}</h3>
          <Notice kind="warning">Paste it where the task says, then mark the task done. It is not shown again on this page: leaving or reloading it hides it.</Notice>
          <CopyField id="revealed-secret" label="New secret" value={extras.revealed.secret} />
        </section>
      )}
      {tasks.length === 0 ? (
        <p>No open tasks.</p>
      ) : (
        <TableWrap label="Open rotation tasks">
          <table>
            <thead>
              <tr>
                <th scope="col">Update</th>
                <th scope="col">Rotation</th>
                <th scope="col">Open since</th>
                {manage && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {tasks.map((task) => (
                <tr>
                  <th scope="row">{task.where}</th>
                  <td>{`#${task.jobId}`}</td>
                  <td>{formatInstant(task.createdAt)}</td>
                  {manage && (
                    <td>
                      <TaskButton action={taskPath(entryPath, task, 'reveal')} csrf={csrf} text="Reveal new secret" label={`Reveal new secret: ${task.where}`} />{' '}
                      <TaskButton action={taskPath(entryPath, task, 'done')} csrf={csrf} text="Mark done" label={`Mark done: ${task.where}`} primary />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </section>
  );
}

type EntryRequest = FastifyRequest<{ Params: { ref: string; task: string } }>;

/**
 * The task forms' routes. `entryPage` renders the entry page with the rotation extras (the revealed
 * secret, or why it could not be); `entryPath` is where a check-off returns to.
 */
export function registerRotationPages(
  app: FastifyInstance,
  ctx: WebContext,
  tools: WebPageTools,
  pages: { entryPage(request: EntryRequest, reply: FastifyReply, extras: RotationExtras & { status?: number }): Promise<unknown>; entryPath(slug: string): string },
): void {
  const { rotationTasks, rotations } = ctx.services;

  /** "Rotate" (Maintainer+): starts the rotation (or finds the one under way) and answers with its new secret, once. */
  app.post<{ Params: { ref: string; task: string } }>(`/-/inventory/:ref/rotate`, { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    const user = request.webSession!.user;
    let rotated: StartedRotation;
    try {
      rotated = await rotations.startByRef(user, request.params.ref, { trigger: 'web' });
    } catch (e) {
      const kind = (e as { kind?: string }).kind;
      if (kind === 'not_found' || kind === 'forbidden' || kind === undefined) throw e;
      return pages.entryPage(request, reply, { rotateError: errorText(e), status: 400 });
    }
    return pages.entryPage(request, reply, { rotated });
  });

  /** "Reveal new secret": the job's pending secret, in this answer only (Maintainer+; no-store like every page). */
  app.post<{ Params: { ref: string; task: string } }>(`/-/inventory/:ref/tasks/:task/reveal`, { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    const user = request.webSession!.user;
    try {
      const revealed = await rotationTasks.reveal(user, request.params.ref, request.params.task);
      return pages.entryPage(request, reply, { revealed });
    } catch (e) {
      const { kind, code } = e as { kind?: string; code?: string };
      if (kind !== 'not_found' || code === 'CREDENTIAL_NOT_FOUND') throw e;
      // The entry is there, the task or its job's secret is not (the rotation finished and wiped it).
      return pages.entryPage(request, reply, { taskError: `Cannot reveal it: ${code === 'ROTATION_TASK_NOT_FOUND' ? 'no such task' : 'the rotation no longer holds the new secret (it finished and wiped it)'}.`, status: 404 });
    }
  });

  /** "Mark done" (Maintainer+; again is no change), then back to the entry. */
  app.post<{ Params: { ref: string; task: string } }>(`/-/inventory/:ref/tasks/:task/done`, { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    const user = request.webSession!.user;
    try {
      const { entry } = await rotationTasks.markDone(user, request.params.ref, request.params.task);
      return reply.redirect(`${pages.entryPath(entry.slug)}?notice=task_done`, 303);
    } catch (e) {
      const { kind, code } = e as { kind?: string; code?: string };
      if (kind !== 'not_found' || code === 'CREDENTIAL_NOT_FOUND') throw e;
      return pages.entryPage(request, reply, { taskError: errorText(e), status: 404 });
    }
  });
}
