/**
 * A Scope owns everything a page or dialog starts — event subscriptions, timers, DOM
 * listeners on shared elements, child scopes — and undoes all of it in one dispose().
 *
 * Why: every page subscribes on enter and must unsubscribe on leave (the engine keeps running
 * each subscription's query on every event until told otherwise). Collecting disposers in one
 * place makes "forgot to unsubscribe" impossible to write.
 */

export class Scope {
  constructor() {
    this.disposers = [];
    this.disposed = false;
  }

  /** Register a cleanup function; runs at once if the scope is already disposed. */
  add(fn) {
    if (this.disposed) fn();
    else this.disposers.push(fn);
    return fn;
  }

  /** Keep an object with close() (a Subscription) until the scope ends. */
  own(closable) {
    this.add(() => closable.close());
    return closable;
  }

  /** setInterval that stops with the scope. */
  every(ms, fn) {
    const id = setInterval(fn, ms);
    this.add(() => clearInterval(id));
    return id;
  }

  /** setTimeout that is cancelled with the scope. */
  later(ms, fn) {
    const id = setTimeout(fn, ms);
    this.add(() => clearTimeout(id));
    return id;
  }

  /** addEventListener removed with the scope. */
  listen(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.add(() => target.removeEventListener(type, fn, options));
  }

  /** A child scope disposed with this one (or earlier, on its own). */
  child() {
    const c = new Scope();
    this.add(() => c.dispose());
    return c;
  }

  /** Run every cleanup, newest first; errors are reported, never stop the others. */
  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    for (const fn of this.disposers.reverse()) {
      try {
        fn();
      } catch (e) {
        console.error('scope cleanup failed', e);
      }
    }
    this.disposers = [];
  }
}
