import { SynodError } from '../core/index.js';

/**
 * An optional peer dependency that a function of `synod/testing` needs is not
 * installed: today only `fast-check`, which the arbitraries and properties build on.
 * The rest of the testing kit (the simulator, the checkers, the conformance suites)
 * loads and runs without it.
 *
 * @example
 * ```ts
 * try { simulationArbitrary(); }
 * catch (e) { if (e instanceof MissingPeerError) console.log(e.packageName); } // 'fast-check'
 * ```
 */
export class MissingPeerError extends SynodError {
  /** The npm package to install, such as `fast-check`. */
  readonly packageName: string;

  constructor(packageName: string, cause: unknown) {
    super(
      'MISSING_PEER',
      `synod/testing: this function needs \`${packageName}\`, an optional peer dependency that is not installed; install it with \`npm install --save-dev ${packageName}\``,
      { cause },
    );
    this.packageName = packageName;
  }
}
