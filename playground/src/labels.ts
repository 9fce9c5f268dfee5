/** Short texts for what the drawing shows: values, messages, roles. */
import { type Ballot, type Message, type Value, formatBallot } from '../../src/core/index.js';
import type { SimMessage } from '../../src/testing/simulator.js';

const decoder = new TextDecoder();

/** A value in a log cell: the commands of a batch, `no-op`, or `config`. */
export function valueLabel(value: Value): string {
  switch (value.kind) {
    case 'noop':
      return 'no-op';
    case 'config':
      return 'config';
    case 'batch': {
      const texts = value.commands.map((c) => decoder.decode(c));
      return texts.length <= 2 ? texts.join(',') : `${texts[0]}…+${texts.length - 1}`;
    }
  }
}

/** A ballot as the drawing shows it: `round.node`. */
export function ballotLabel(ballot: Ballot): string {
  return formatBallot(ballot);
}

/** The ballot a message carries, if any. */
function messageBallot(m: SimMessage): Ballot | undefined {
  if (m.type === 'snapshot') return undefined;
  if ('ballot' in m) return m.ballot;
  if (m.type === 'probe' || m.type === 'probeReply') return m.fence;
  if (m.type === 'precheckReply') return m.promised;
  return undefined;
}

/** A message in flight: its type, ballot and the slots it is about. */
export function messageLabel(m: SimMessage): string {
  if (m.type === 'snapshot') return `snapshot ≤${m.snapshot.slot}`;
  const ballot = messageBallot(m);
  const b = ballot === undefined ? '' : ` ${formatBallot(ballot)}`;
  return `${m.type}${b}${slotsOf(m)}`;
}

function slotsOf(m: Message): string {
  switch (m.type) {
    case 'accept':
      return m.values.length === 0 ? '' : ` s${range(m.firstSlot, m.values.length)}`;
    case 'accepted':
      return m.count === 0 ? '' : ` s${range(m.firstSlot, m.count)}`;
    case 'chosen':
      return m.values.length === 0 ? '' : ` s${range(m.firstSlot, m.values.length)}`;
    case 'prepare':
      return ` ≥s${m.firstSlot}`;
    case 'commit':
    case 'quiesce':
      return ` c${m.commitIndex}`;
    default:
      return '';
  }
}

function range(first: number, count: number): string {
  return count === 1 ? `${first}` : `${first}-${first + count - 1}`;
}

/** Colour family of a message type: phase 1, phase 2, learning, liveness, refusal. */
export function messageClass(m: SimMessage): string {
  switch (m.type) {
    case 'prepare':
    case 'promise':
    case 'precheck':
    case 'precheckReply':
    case 'timeoutNow':
      return 'phase1';
    case 'accept':
    case 'accepted':
      return 'phase2';
    case 'commit':
    case 'chosen':
    case 'catchUp':
    case 'snapshot':
      return 'learn';
    case 'reject':
      return 'reject';
    case 'heartbeat':
    case 'heartbeatReply':
    case 'probe':
    case 'probeReply':
    case 'quiesce':
    case 'wake':
      return 'beat';
  }
}
