/** `'dist'` when `<root>/dist` holds a build at least as new as every file under `<root>/src`, `'src'` otherwise. */
export function chooseRuntime(root: string): 'dist' | 'src';
