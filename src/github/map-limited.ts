/**
 * Maps `items` with at most `limit` calls in flight, keeping the order: GitHub reads of many files
 * go in parallel without opening a request per file at once (GitHub counts concurrent requests
 * towards its secondary rate limit).
 */
export async function mapLimited<T, R>(items: T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
