import type {
  IsolationLevel,
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlQuery,
  Transaction,
} from "@prisma/driver-adapter-utils";
import { Mutex } from "async-mutex";

/**
 * A SQLite driver adapter whose transactions begin IMMEDIATE instead of DEFERRED. With a second
 * connection writing (the hot-path thread, or another process), a deferred transaction that reads
 * and then writes fails with SQLITE_BUSY as soon as the other one committed in between; an
 * immediate one takes the write lock first and waits its turn (busy_timeout).
 *
 * Built on the driver-adapter interface Prisma's client takes, around the official adapter: its
 * statements run unchanged, and only the start of a transaction is this one's. Transactions are
 * serialised here, as the official adapter does, because they share its one connection; Prisma
 * sends the COMMIT or ROLLBACK itself (`usePhantomQuery: false`), through the transaction.
 */
export function immediateTransactions(factory: SqlDriverAdapterFactory): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect() {
      return withImmediateTransactions(await factory.connect());
    },
  };
}

function withImmediateTransactions(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const transactions = new Mutex();
  const { provider, adapterName } = adapter;
  const queryRaw = (query: SqlQuery) => adapter.queryRaw(query);
  const executeRaw = (query: SqlQuery) => adapter.executeRaw(query);
  return {
    provider,
    adapterName,
    queryRaw,
    executeRaw,
    executeScript: (script) => adapter.executeScript(script),
    getConnectionInfo: adapter.getConnectionInfo && (() => adapter.getConnectionInfo!()),
    dispose: () => adapter.dispose(),
    async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
      // SQLite's transactions are serializable; the official adapter refuses any other level the same way.
      if (isolationLevel && isolationLevel !== "SERIALIZABLE") return adapter.startTransaction(isolationLevel);
      const release = await transactions.acquire();
      try {
        await executeRaw({ sql: "BEGIN IMMEDIATE", args: [], argTypes: [] });
      } catch (error) {
        release();
        throw error;
      }
      const end = async () => release();
      return {
        provider,
        adapterName,
        options: { usePhantomQuery: false },
        queryRaw,
        executeRaw,
        commit: end,
        rollback: end,
      };
    },
  };
}
