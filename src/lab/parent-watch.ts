/**
 * For processes the lab spawns (nodes): exit when the lab goes away.
 *
 * The lab starts each node with a stdin pipe and SPACEPHONE_EXIT_WITH_PARENT=1.
 * When the lab exits — cleanly, by crash, or by SIGKILL — the kernel closes the
 * pipe and the node sees EOF on stdin. The node's entry point (cli `start`)
 * calls `watchParent(shutdown)` once; nothing happens unless the variable is set.
 */
export function watchParent(onParentGone: () => void, env: NodeJS.ProcessEnv = process.env): () => void {
  if (env.SPACEPHONE_EXIT_WITH_PARENT !== '1') return () => {};
  let fired = false;
  const fire = (): void => {
    if (fired) return;
    fired = true;
    onParentGone();
  };
  const stdin = process.stdin;
  stdin.on('end', fire);
  stdin.on('close', fire);
  stdin.on('error', fire);
  stdin.on('data', () => {}); // drain; flowing mode is needed to see EOF
  stdin.resume();
  return () => {
    stdin.off('end', fire);
    stdin.off('close', fire);
    stdin.off('error', fire);
    stdin.pause();
    // A paused pipe must not keep the process alive after the node shut down.
    (stdin as { unref?: () => void }).unref?.();
  };
}
