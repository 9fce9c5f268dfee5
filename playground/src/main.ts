/**
 * The playground page: wires the controls to a {@link Session} and redraws the
 * cluster, the logs, the words panel and the trace after every change. Virtual time
 * advances only while playing; pausing stops the world.
 */
import type { NodeId } from '../../src/core/index.js';
import './style.css';
import type { Action } from './action.js';
import { clusterSvg, escape } from './cluster-view.js';
import { type Point, clamp, cutsOf, linkKey, ringLayout } from './layout.js';
import { logTable } from './log-view.js';
import { type LiveReplay, ReplayLineError, formatReplay, parseReplay } from './replay-line.js';
import { scheduleOf, suiteNames } from './schedule.js';
import { Session } from './session.js';
import { wordsPanel } from './words-view.js';

/** Ticks per second at each step of the speed slider. */
const speeds = [0.5, 1, 2, 4, 8, 16, 32, 64, 128];
/** Most ticks done in one animation frame, so a fast speed cannot freeze the page. */
const ticksPerFrameMax = 64;

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`playground: no #${id}`);
  return element as T;
};

let session: Session;
let positions = new Map<NodeId, Point>();
let manualCuts = new Set<string>();
let selected: NodeId | undefined;
let dragging: { id: NodeId; moved: boolean } | undefined;
let playing = false;
let visualTime = 0;
let lastFrame = 0;

function start(next: Session): void {
  session = next;
  positions = ringLayout(session.sim.ids);
  manualCuts = new Set();
  selected = undefined;
  visualTime = session.sim.now;
  setPlaying(false);
  draw();
}

/** Most members a hand-made cluster has, observers included. */
const membersMax = 7;

function liveSetup(): LiveReplay {
  const seed = Number($<HTMLInputElement>('seed').value);
  const voters = Number($<HTMLSelectElement>('voters').value);
  const observers = Math.min(Number($<HTMLSelectElement>('observers').value), membersMax - voters);
  $<HTMLSelectElement>('observers').value = String(observers);
  return { kind: 'live', seed: Number.isInteger(seed) && seed >= 0 ? seed : 1, voters, observers, actions: [] };
}

function act(action: Action): void {
  session.act(action);
  draw();
}

/** Pushes the links the drawing implies (range and hand cuts) to the network. */
function applyLinks(): void {
  act({ kind: 'links', cuts: cutsOf(positions, manualCuts) });
}

/** The message in flight that arrives next. */
function nextMessage(): number | undefined {
  let best: { order: number; at: number } | undefined;
  for (const f of session.sim.network.inFlight) {
    const at = Math.max(f.deliverAt, f.sentAt + 1);
    if (best === undefined || at < best.at || (at === best.at && f.order < best.order)) best = { order: f.order, at };
  }
  return best?.order;
}

function setPlaying(on: boolean): void {
  playing = on && session.stop === undefined;
  $('play').textContent = playing ? 'pause' : 'play';
  lastFrame = performance.now();
  if (!playing) visualTime = session.sim.now + 0.5;
}

function frame(now: number): void {
  if (playing) {
    const speed = speeds[Number($<HTMLInputElement>('speed').value)] ?? 4;
    visualTime += ((now - lastFrame) / 1000) * speed;
    let ticks = 0;
    while (session.sim.now < Math.floor(visualTime) && session.stop === undefined && ticks++ < ticksPerFrameMax) session.stepTick();
    if (session.sim.now < Math.floor(visualTime)) visualTime = session.sim.now + 0.99;
    if (session.stop !== undefined) setPlaying(false);
    draw();
  }
  lastFrame = now;
  requestAnimationFrame(frame);
}

function draw(): void {
  $('stage').innerHTML = clusterSvg(session, {
    positions,
    selected,
    time: playing ? visualTime : session.sim.now + 0.5,
    dragging: dragging?.moved === true ? dragging.id : undefined,
  });
  $('logs-box').innerHTML = logTable(session);
  $('words').innerHTML = wordsPanel(session);
  $('trace').textContent = session.trace.slice(-120).join('\n');
  $('trace').scrollTop = $('trace').scrollHeight;
  $('selected-label').textContent = selected === undefined ? 'click a member to select it' : `selected: ${selected}`;
  $('speed-out').textContent = `${speeds[Number($<HTMLInputElement>('speed').value)]} ticks/s`;
  document.body.dataset['stopped'] = session.stop?.kind ?? '';
}

function svgPoint(event: PointerEvent): Point {
  const svg = $('stage').querySelector('svg')!;
  const box = svg.getBoundingClientRect();
  const viewBox = svg.viewBox.baseVal;
  return { x: ((event.clientX - box.left) / box.width) * viewBox.width, y: ((event.clientY - box.top) / box.height) * viewBox.height };
}

function wire(): void {
  const suite = $<HTMLSelectElement>('suite');
  suite.innerHTML = suiteNames.map((n) => `<option>${escape(n)}</option>`).join('');
  $('new-cluster').addEventListener('click', () => start(Session.live(liveSetup())));
  $('step').addEventListener('click', () => {
    setPlaying(false);
    session.stepVisible();
    setPlaying(false);
    draw();
  });
  $('step-tick').addEventListener('click', () => {
    setPlaying(false);
    session.stepTick();
    setPlaying(false);
    draw();
  });
  $('play').addEventListener('click', () => {
    setPlaying(!playing);
    draw();
  });
  $('speed').addEventListener('input', () => draw());
  $('propose').addEventListener('click', () => act({ kind: 'propose', text: session.nextCommand() }));
  const kill = (keepUnsynced: boolean): void => {
    if (selected !== undefined) act({ kind: 'crash', node: selected, keepUnsynced });
  };
  $('kill').addEventListener('click', () => kill(false));
  $('kill-keep').addEventListener('click', () => kill(true));
  $('restart').addEventListener('click', () => {
    if (selected !== undefined) act({ kind: 'restart', node: selected });
  });
  $('heal').addEventListener('click', () => {
    positions = ringLayout(session.sim.ids);
    manualCuts = new Set();
    act({ kind: 'links', cuts: [] });
  });
  $('drop').addEventListener('click', () => {
    const order = nextMessage();
    if (order !== undefined) act({ kind: 'drop', order });
  });
  $('duplicate').addEventListener('click', () => {
    const order = nextMessage();
    if (order !== undefined) act({ kind: 'duplicate', order });
  });
  $('replay').addEventListener('click', () => {
    const status = $('replay-status');
    try {
      const replay = parseReplay($<HTMLTextAreaElement>('replay-text').value);
      if (replay.kind === 'live') {
        start(Session.live(replay));
        status.textContent = `replaying a playground run: ${replay.voters} voters, ${replay.observers} observers, ${replay.actions.length} actions`;
        return;
      }
      if (replay.kind === 'schedule') {
        start(Session.schedule(replay, replay.config));
        status.textContent = `replaying the schedule given in full (seed ${replay.config.seed})`;
        return;
      }
      const name = replay.suite ?? suite.value;
      suite.value = name;
      const config = scheduleOf(name, replay.seed, replay.path);
      start(Session.schedule({ ...replay, suite: name }, config));
      status.textContent = `suite ${name}, seed ${replay.seed}, path "${replay.path}": ${config.voters} voters, ${config.observers ?? 0} observers, ${config.faults.length} faults, ${config.proposals} proposals over ${config.safetyTicks} ticks`;
    } catch (e) {
      status.textContent = e instanceof ReplayLineError ? e.message : `could not replay: ${String(e)}`;
    }
  });
  $('run-to-stop').addEventListener('click', () => {
    setPlaying(false);
    for (let i = 0; i < 5_000_000 && session.stop === undefined; i++) session.step();
    setPlaying(false);
    draw();
  });
  $('export').addEventListener('click', () => {
    const line = formatReplay(session.exportReplay());
    $<HTMLTextAreaElement>('replay-text').value = line;
    const ignored = session.scheduled ? session.actions.length : 0;
    $('replay-status').textContent =
      ignored === 0 ? 'the line above replays this run' : `the line above replays the schedule; the ${ignored} action(s) you added to it are not in it`;
  });

  const stage = $('stage');
  stage.addEventListener('pointerdown', (event) => {
    const target = event.target as Element;
    const member = target.closest('[data-member]');
    if (member !== null) {
      dragging = { id: member.getAttribute('data-member')!, moved: false };
      stage.setPointerCapture(event.pointerId);
      return;
    }
    const link = target.closest('.link-hit');
    if (link !== null) {
      const [a, b] = link.getAttribute('data-link')!.split('|') as [NodeId, NodeId];
      // Cycle: both ways up, a->b cut, b->a cut, both cut.
      const ab = manualCuts.has(linkKey(a, b));
      const ba = manualCuts.has(linkKey(b, a));
      manualCuts.delete(linkKey(a, b));
      manualCuts.delete(linkKey(b, a));
      if (!ab && !ba) manualCuts.add(linkKey(a, b));
      else if (ab && !ba) manualCuts.add(linkKey(b, a));
      else if (!ab && ba) {
        manualCuts.add(linkKey(a, b));
        manualCuts.add(linkKey(b, a));
      }
      applyLinks();
    }
  });
  stage.addEventListener('pointermove', (event) => {
    if (dragging === undefined) return;
    dragging.moved = true;
    positions.set(dragging.id, clamp(svgPoint(event)));
    draw();
  });
  stage.addEventListener('pointerup', () => {
    if (dragging === undefined) return;
    const { id, moved } = dragging;
    dragging = undefined;
    if (moved) applyLinks();
    else {
      selected = selected === id ? undefined : id;
      draw();
    }
  });
}

wire();
start(Session.live(liveSetup()));
requestAnimationFrame(frame);
