/**
 * The logged-in session: who the user is, the cluster connection, and their preferences.
 *
 * Rules:
 * - The password never leaves the login form in clear: the session keeps hex(SHA1(password)),
 *   which is all the challenge needs, in sessionStorage (gone when the tab closes). It is
 *   written only after the engine accepted it (evQueue's UI stored it first, frontend.md §6.6).
 * - An engine with authentication disabled greets with <ready>: no login form is shown.
 * - Preferences are the JSON of `user update_preferences` (evQueue's `preferred_node` key plus
 *   ours: env_name, env_color); with auth disabled there is no user, so they stay in
 *   localStorage.
 */

import { AuthError } from './connection.js';
import { Cluster, selfUrl } from './cluster.js';
import { buildCommand, child } from './wire.js';

const KEY_USER = 'evqueue.user';
const KEY_HASH = 'evqueue.passwordHash';
const KEY_LOCAL_PREFS = 'evqueue.preferences';

export const DEFAULT_PREFERENCES = Object.freeze({ preferred_node: '', env_name: '', env_color: '' });

/** Preferences from their JSON text; anything unreadable gives the defaults. */
export function parsePreferences(text) {
  try {
    const value = JSON.parse(text || '{}');
    return { ...DEFAULT_PREFERENCES, ...(value && typeof value === 'object' ? value : {}) };
  } catch {
    return { ...DEFAULT_PREFERENCES };
  }
}

/** Credentials kept by this tab, or null. */
export function storedCredentials() {
  const user = sessionStorage.getItem(KEY_USER);
  const passwordHash = sessionStorage.getItem(KEY_HASH);
  return user !== null && passwordHash ? { user, passwordHash } : null;
}

export class Session {
  constructor() {
    this.user = '';
    this.passwordHash = null;
    this.cluster = null;
    this.greeting = null;
    this.preferences = { ...DEFAULT_PREFERENCES };
    this.listeners = new Set();
  }

  get profile() {
    return this.greeting ? this.greeting.profile : 'USER';
  }

  get isAdmin() {
    return this.profile === 'ADMIN';
  }

  get authDisabled() {
    return Boolean(this.greeting && this.greeting.authDisabled);
  }

  /** Call fn() when preferences change; returns the function that stops it. */
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Connect without credentials to learn whether the engine wants a login.
   * Resolves true (and the session is open) when auth is disabled, false when a login is needed.
   */
  async probe() {
    try {
      await this.open('', null);
      return true;
    } catch (e) {
      if (e instanceof AuthError && e.required) return false;
      throw e;
    }
  }

  /** Log in (or re-open a stored session). Throws AuthError or ConnectionError. */
  async open(user, passwordHash) {
    const cluster = new Cluster({ url: selfUrl(), user, passwordHash });
    try {
      this.greeting = await cluster.start();
    } catch (e) {
      cluster.close();
      throw e;
    }
    this.cluster = cluster;
    this.user = this.greeting.authDisabled ? 'anonymous' : user;
    this.passwordHash = passwordHash;
    if (!this.greeting.authDisabled) {
      sessionStorage.setItem(KEY_USER, user);
      sessionStorage.setItem(KEY_HASH, passwordHash);
    }
    await this.loadPreferences();
    return this.greeting;
  }

  async loadPreferences() {
    if (this.authDisabled) {
      this.preferences = parsePreferences(localStorage.getItem(KEY_LOCAL_PREFS));
      return;
    }
    try {
      const root = await this.cluster.api(buildCommand('user', { action: 'get', name: this.user }));
      const row = child(root, 'user');
      this.preferences = parsePreferences(row ? row.getAttribute('preferences') : '');
    } catch (e) {
      console.warn('preferences not loaded', e);
      this.preferences = { ...DEFAULT_PREFERENCES };
    }
  }

  /** Store new preferences (on the engine when there is a user). */
  async savePreferences(prefs) {
    const next = { ...this.preferences, ...prefs };
    const text = JSON.stringify(next);
    if (this.authDisabled) {
      localStorage.setItem(KEY_LOCAL_PREFS, text);
    } else {
      await this.cluster.api(
        buildCommand('user', { action: 'update_preferences', name: this.user, preferences: text }),
      );
    }
    this.preferences = next;
    for (const fn of [...this.listeners]) fn(this);
  }

  /** Change the password; the session keeps the new hash. */
  async changePassword(password, passwordHash) {
    await this.cluster.api(buildCommand('user', { action: 'change_password', name: this.user, password }));
    this.passwordHash = passwordHash;
    this.cluster.setPasswordHash(passwordHash);
    sessionStorage.setItem(KEY_HASH, passwordHash);
  }

  /** Forget the credentials and close every socket. */
  logout() {
    sessionStorage.removeItem(KEY_USER);
    sessionStorage.removeItem(KEY_HASH);
    if (this.cluster) this.cluster.close();
    this.cluster = null;
    this.greeting = null;
  }
}
