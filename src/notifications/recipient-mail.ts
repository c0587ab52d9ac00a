/**
 * One recipient's e-mail for the deliveries a job claimed, shared by the token expiry job and the
 * credential reminders: the job's lease is renewed first (a node that lost it sends nothing more and
 * leaves the rest to the holder), then the message is sent and its deliveries marked sent — or failed,
 * to be retried by a later run until `maxAttempts` tries were made.
 */
import type { Clock } from '../kernel/clock.js';
import type { ComposedEmail } from './expiry-email.js';
import type { Mailer } from './mailer.js';

export interface RecipientMailDeps {
  mailer: Mailer;
  clock: Clock;
  leaseMs: number;
  maxAttempts: number;
  /** Takes or renews the job's lock until `until`; false when another node holds it. */
  renewLease(now: string, until: string): Promise<boolean>;
  markSent(deliveryIds: readonly number[], at: string): Promise<void>;
  markFailed(deliveryIds: readonly number[], error: string, maxAttempts: number): Promise<void>;
  onEmail?: (outcome: 'sent' | 'failed') => void;
}

/** What a run reports about its e-mails. */
export interface MailTally {
  emailsSent: number;
  emailsFailed: number;
  recipients: string[];
}

/** Sends `content` to `to` for `deliveryIds`; false when this node lost the lease and must stop. */
export async function sendRecipientMail(deps: RecipientMailDeps, mail: { to: string; content: ComposedEmail; deliveryIds: readonly number[] }, tally: MailTally): Promise<boolean> {
  const t = deps.clock.now();
  if (!(await deps.renewLease(t.toISOString(), new Date(t.getTime() + deps.leaseMs).toISOString()))) return false;
  try {
    await deps.mailer.send({ to: mail.to, ...mail.content });
  } catch (e) {
    await deps.markFailed(mail.deliveryIds, (e as Error).message, deps.maxAttempts);
    tally.emailsFailed++;
    deps.onEmail?.('failed');
    return true;
  }
  await deps.markSent(mail.deliveryIds, deps.clock.now().toISOString());
  tally.emailsSent++;
  tally.recipients.push(mail.to);
  deps.onEmail?.('sent');
  return true;
}
