/**
 * The named limits of the linearizability checker, in one place.
 *
 * @example
 * ```ts
 * checkLinearizability(history, versionedKvModel, { timeBudgetMs: linearizabilityLimits.timeBudgetMsDefault / 10 });
 * ```
 */
export const linearizabilityLimits = {
  /** Default wall-clock budget of one check (search and shrinking together), in milliseconds. */
  timeBudgetMsDefault: 10_000,
  /** Default budget of search steps of one check (search and shrinking together). */
  stepsMaxDefault: 1_000_000_000,
  /**
   * Default bound on the memory the searches of one check hold at once (their memos
   * of explored configurations and interned states), in bytes: 512 MiB, well under
   * Node's default heap (2 to 4 GiB), so a hard history ends `unknown` instead of
   * aborting the process.
   */
  memoryBytesMaxDefault: 512 * 1024 * 1024,
  /** Search steps between two reads of the clock (a power of two). */
  stepsPerClockRead: 1024,
  /**
   * Search steps one key gets before the next key's turn: keys are searched in turns
   * so that a hard key cannot hide a failing one behind it.
   */
  partitionTurnSteps: 1 << 16,
  /**
   * Moves per entry, on average, the insertion sort of a key's calls or returns may
   * make before it gives way to the general sort (a history far from time order).
   */
  entrySortMovesPerEntry: 8,
  /**
   * Most slots a new memo or transition table starts with (a power of two; it doubles at
   * half full). A key starts with room for about twice its operations, up to this: a
   * search that does not backtrack enters about one configuration per operation.
   */
  memoSlotsInitialMax: 1 << 14,
  /**
   * Bitset words (32 operations each) a memo keeps inside its table's slots; a key of
   * more operations keeps its bitsets in chunks, one more memory access per lookup.
   */
  memoInlineWordsMax: 6,
  /** 32-bit words per memo chunk of bitsets (4 MiB); a memo grows a chunk at a time. */
  memoChunkWords: 1 << 20,
  /**
   * Transitions a search caches before it judges whether they repeat (see
   * `PartitionSearch`): past it, the cache stays on only if the search took at least
   * twice as many steps.
   */
  transitionsProbation: 1 << 14,
  /** Estimated bytes one interned model state costs besides its hash string (map entry, number). */
  internedStateBytes: 64,
  /** Model states kept to explain a failure (the distinct states possible where the search died). */
  explainStatesMax: 8,
  /**
   * Largest buffer, in bytes (a power of two), that one search of a check gives back
   * for the next to reuse (its entry list, bitset, stack, memo and transition tables);
   * larger ones are left to the garbage collector.
   */
  scratchBufferBytesMax: 1 << 20,
  /**
   * Most bytes of buffers given back that a check keeps for its next searches, on top
   * of what its searches hold (`memoryBytesMax`); freed with the check.
   */
  scratchFreeBytesMax: 16 << 20,
  /**
   * Keys a history needs before `checkLinearizabilityInParallel` with `workers: 'auto'`
   * starts worker threads: one key cannot be split.
   */
  parallelKeysMin: 2,
  /**
   * Time `checkLinearizabilityInParallel` with `workers: 'auto'` checks in the calling
   * thread before it starts worker threads for the keys not finished, in milliseconds.
   * A worker costs 50 to 100 ms to start and a few hundred more of CPU time to warm its
   * code up (the bench measured 1.95 s of CPU on two fresh workers for a check one warm
   * thread did in 1.55 to 1.8 s), so a check of under a second is faster left alone.
   */
  parallelAfterMs: 1_000,
  /**
   * Heap a worker thread may use besides its share of `memoryBytesMax` and its copy of
   * the keys it takes, in bytes (its `resourceLimits`): a worker past it is stopped, and
   * its keys end 'memory bound', instead of the process running out of memory.
   */
  workerHeapBytesBase: 128 * 1024 * 1024,
  /** Heap a worker may use per byte of the serialized history, for its copy of the keys (see `workerHeapBytesBase`). */
  workerHeapBytesPerHistoryByte: 8,
  /**
   * Time after the time budget at which the checker stops worker threads that have not
   * stopped by themselves (a model step that never returns), in milliseconds.
   */
  workerGraceMs: 2_000,
} as const;
