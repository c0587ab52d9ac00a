/** The external-program gate itself: skip on a developer machine, fail under CI=true. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireProgram } from '../support/programs.js';

describe('requireProgram', () => {
  afterEach(() => vi.restoreAllMocks());

  it('accepts a program whose probe exits 0', () => {
    expect(requireProgram('node', { command: process.execPath, args: ['-e', ''] }, {})).toBe(true);
  });

  it('skips with a SKIP line naming the program and the reason when it is missing outside CI', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(requireProgram('nothing', { command: '/nonexistent/latchkey-no-such-program', hint: 'apt-get install nothing' }, { CI: undefined })).toBe(false);
    expect(warn).toHaveBeenCalledWith('SKIP nothing: /nonexistent/latchkey-no-such-program not found (install: apt-get install nothing)');
  });

  it('skips when the probe exits non-zero, quoting its last stderr line', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(requireProgram('broken', { command: process.execPath, args: ['-e', 'console.error("ModuleNotFoundError: x"); process.exit(3)'] }, {})).toBe(false);
    expect(warn.mock.calls[0]![0]).toMatch(/^SKIP broken: `.* -e .*` exited with 3: ModuleNotFoundError: x$/);
  });

  it('fails instead of skipping under CI=true', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(() => requireProgram('nothing', { command: '/nonexistent/latchkey-no-such-program' }, { CI: 'true' })).toThrow(/nothing is required under CI=true but is not usable: .*not found/);
    expect(warn).not.toHaveBeenCalled();
  });
});
