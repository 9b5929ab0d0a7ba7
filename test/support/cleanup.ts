import { after } from 'node:test';

/**
 * Where cleanup goes: a test's context (node:test's `t`), or a suite's (`suiteCleanup()`). Anything with
 * node:test's `after(fn)` will do.
 */
export interface Cleanup {
  after(fn: () => unknown): void;
}

type Task = () => unknown;

/** Each test's (or suite's) tasks, run when it ends. */
const stacks = new WeakMap<Cleanup, Task[]>();

/**
 * Runs `task` when the test (or suite) ends, pass or fail. Tasks run last registered first, so what was made
 * first is undone last (the app is closed before the store it used); all of them run even if one throws.
 */
export function defer(t: Cleanup, task: Task): void {
  let stack = stacks.get(t);
  if (!stack) {
    const tasks: Task[] = [];
    stacks.set(t, tasks);
    t.after(() => unwind(tasks));
    stack = tasks;
  }
  stack.push(task);
}

/**
 * A `Cleanup` for the suite being defined (call it in the `describe` body): what is deferred to it runs once
 * the suite's tests are done, as node:test's `after` hook.
 */
export function suiteCleanup(): Cleanup {
  const tasks: Task[] = [];
  after(() => unwind(tasks));
  const suite: Cleanup = { after: (task) => void tasks.push(task) };
  stacks.set(suite, tasks);
  return suite;
}

async function unwind(tasks: Task[]): Promise<void> {
  const errors: unknown[] = [];
  while (tasks.length) {
    try {
      await tasks.pop()!();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'several cleanup tasks failed');
}
