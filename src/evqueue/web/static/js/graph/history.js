/**
 * Undo and redo over snapshots of the definition text: every edit (graph, structure form or
 * XML view) records the new text; undo gives back the one before. Typing in one field records
 * one step, not one per key: a run of plain edits replaces its own last snapshot.
 */

export class History {
  constructor(limit = 200) {
    this.limit = limit;
    this.past = [];
    this.future = [];
    this.merging = false;
  }

  /** Start over from text (a loaded or uploaded workflow). */
  reset(text) {
    this.past = [text];
    this.future = [];
    this.merging = false;
  }

  /**
   * Record the text after an edit. typing: a plain edit (a key in a field), merged with the
   * plain edits just before it.
   */
  record(text, { typing = false } = {}) {
    if (this.past[this.past.length - 1] === text) return;
    if (typing && this.merging && this.past.length > 1) this.past[this.past.length - 1] = text;
    else this.past.push(text);
    this.merging = typing;
    this.future = [];
    if (this.past.length > this.limit) this.past.shift();
  }

  canUndo() {
    return this.past.length > 1;
  }

  canRedo() {
    return this.future.length > 0;
  }

  /** The text to go back to, or null. */
  undo() {
    if (!this.canUndo()) return null;
    this.future.push(this.past.pop());
    this.merging = false;
    return this.past[this.past.length - 1];
  }

  /** The text undone last, or null. */
  redo() {
    if (!this.canRedo()) return null;
    const text = this.future.pop();
    this.past.push(text);
    this.merging = false;
    return text;
  }
}
