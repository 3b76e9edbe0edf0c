/**
 * The preferences dialog: environment name and colour (shown in the header so a production
 * console is not mistaken for a test one), the preferred node for launches, and a password
 * change. The new password goes to the engine once (`user change_password`); the session then
 * keeps only its SHA-1.
 */

import { formDialog } from '../forms.js';

/** Header colours: light enough for dark text, distinct enough to tell environments apart. */
export const ENV_COLORS = [
  { value: '', label: 'None' },
  { value: '#f4cccc', label: 'Red (production)' },
  { value: '#fce5cd', label: 'Orange' },
  { value: '#fff2cc', label: 'Yellow' },
  { value: '#d9ead3', label: 'Green' },
  { value: '#cfe2f3', label: 'Blue' },
  { value: '#d9d2e9', label: 'Purple' },
  { value: '#cccccc', label: 'Grey' },
];
import { toast } from '../ui.js';
import { sha1Hex } from '../sha1.js';

/** o: {session} */
export function openPreferences({ session }) {
  const p = session.preferences;
  const nodes = session.cluster.nodeNames();
  const fields = [
    {
      name: 'env_name',
      label: 'Environment name',
      value: p.env_name,
      placeholder: 'e.g. production',
      testid: 'pref-env-name',
      help: 'Shown in the header of every page.',
    },
    {
      name: 'env_color',
      label: 'Environment colour',
      type: 'select',
      value: p.env_color,
      testid: 'pref-env-color',
      options: ENV_COLORS.some((c) => c.value === p.env_color)
        ? ENV_COLORS
        : [...ENV_COLORS, { value: p.env_color, label: p.env_color }],
    },
    {
      name: 'preferred_node',
      label: 'Preferred node for launches',
      type: 'select',
      value: p.preferred_node,
      testid: 'pref-node',
      options: [{ value: '', label: "This page's node" }, ...nodes],
    },
  ];
  if (!session.authDisabled) {
    fields.push(
      {
        name: 'password',
        label: 'New password (leave empty to keep)',
        type: 'password',
        testid: 'pref-password',
        autocomplete: 'new-password',
      },
      {
        name: 'password2',
        label: 'New password again',
        type: 'password',
        testid: 'pref-password2',
        autocomplete: 'new-password',
      },
    );
  }
  formDialog({
    title: 'Preferences',
    testid: 'preferences-dialog',
    fields,
    onSubmit: async (v) => {
      if (v.password && v.password !== v.password2) throw new Error('The two passwords differ.');
      await session.savePreferences({
        env_name: v.env_name.trim(),
        env_color: v.env_color,
        preferred_node: v.preferred_node,
      });
      if (v.password) {
        await session.changePassword(v.password, sha1Hex(v.password));
        toast('Password changed', 'success');
      }
      toast('Preferences saved', 'success');
    },
  });
}
