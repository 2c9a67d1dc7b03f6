/**
 * Derives a Mermaid state diagram from an XState machine definition, so the picture in the docs can never drift
 * from the machine that actually runs.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

/** Options of {@link toMermaid}. */
export interface MermaidOptions {
  /** Show guard names on transitions (default true). */
  guards?: boolean;
}

interface TransitionLike {
  eventType: string;
  target?: readonly AnyStateNode[];
  guard?: { type?: string } | string;
  reenter?: boolean;
}

/** Generated invoke ids (`0.machine.state`) say nothing; the invoked actor's registered name does. */
function actorName(id: string, invokes: Map<string, string>): string {
  return invokes.get(id) ?? id;
}

function label(eventType: string, invokes: Map<string, string>): string {
  const done = /^xstate\.done\.actor\.(.+)$/.exec(eventType);
  if (done) return `${actorName(done[1]!, invokes)} done`;
  const error = /^xstate\.error\.actor\.(.+)$/.exec(eventType);
  if (error) return `${actorName(error[1]!, invokes)} failed`;
  if (eventType === '') return 'always';
  if (eventType.startsWith('xstate.done.state.')) return 'done';
  return eventType;
}

function guardName(guard: TransitionLike['guard']): string | undefined {
  if (!guard) return undefined;
  if (typeof guard === 'string') return guard;
  return guard.type && !guard.type.startsWith('xstate.') ? guard.type : undefined;
}

/** Mermaid state ids may not contain dots; XState ids are `machine.parent.child`. */
function mermaidId(node: AnyStateNode, root: AnyStateNode): string {
  return node.path.length === 0 ? root.key : node.path.join('__');
}

function sanitize(text: string): string {
  return text.replace(/[;:"]/g, ' ').trim();
}

/** Renders the machine as `stateDiagram-v2` text: states nested, transitions labelled by event and guard. */
export function toMermaid(machine: AnyStateMachine, opts: MermaidOptions = {}): string {
  const showGuards = opts.guards ?? true;
  const root = machine.root as AnyStateNode;
  const lines: string[] = ['stateDiagram-v2'];
  const invokes = new Map<string, string>();
  const collect = (node: AnyStateNode): void => {
    for (const inv of node.invoke as { id: string; src: unknown }[]) {
      if (typeof inv.src === 'string') invokes.set(inv.id, inv.src);
    }
    for (const child of Object.values(node.states) as AnyStateNode[]) collect(child);
  };
  collect(root);

  const emit = (node: AnyStateNode, indent: string): void => {
    const children = Object.values(node.states) as AnyStateNode[];
    if (children.length === 0) return;
    const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
    if (initial) lines.push(`${indent}[*] --> ${mermaidId(initial, root)}`);
    for (const child of children) {
      const id = mermaidId(child, root);
      const title = (child.meta as { title?: string } | undefined)?.title;
      if (title) lines.push(`${indent}${id} : ${sanitize(title)}`);
      if (Object.keys(child.states).length > 0) {
        lines.push(`${indent}state ${id} {`);
        emit(child, `${indent}  `);
        lines.push(`${indent}}`);
      }
    }
    for (const child of children) {
      const id = mermaidId(child, root);
      const transitions = [...(child.transitions.values() as Iterable<TransitionLike[]>)].flat();
      const always = (child.always ?? []) as TransitionLike[];
      for (const t of [...transitions, ...always]) {
        for (const target of t.target ?? []) {
          const guard = showGuards ? guardName(t.guard) : undefined;
          const text = sanitize(`${label(t.eventType, invokes)}${guard ? ` [${guard}]` : ''}`);
          lines.push(`${indent}${id} --> ${mermaidId(target, root)} : ${text}`);
        }
      }
      if (child.type === 'final') lines.push(`${indent}${id} --> [*]`);
    }
  };

  emit(root, '  ');
  return `${lines.join('\n')}\n`;
}
