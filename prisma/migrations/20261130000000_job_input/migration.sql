-- A job's input moves to a table of its own, so that claims, heartbeats and completions rewrite the
-- small job row only. Inputs of completed jobs were already cleared ('{}') and are not carried over.
-- Migrations run inside a transaction, where PRAGMA foreign_keys cannot be turned off; so the old
-- table is renamed and dropped only once nothing refers to it, and no cascade can fire.

-- RenameTable
ALTER TABLE "Job" RENAME TO "old_Job";
DROP INDEX "Job_key_key";
DROP INDEX "Job_queue_status_runAt_idx";
DROP INDEX "Job_status_lockedUntil_idx";

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "queue" TEXT NOT NULL DEFAULT 'default',
    "name" TEXT NOT NULL,
    "key" TEXT,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 5,
    "runAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lockedBy" TEXT,
    "lockedUntil" DATETIME,
    "lastError" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "completedAt" DATETIME
);
INSERT INTO "Job" ("id", "queue", "name", "key", "status", "attempts", "maxAttempts", "runAt", "lockedBy", "lockedUntil", "lastError", "createdAt", "updatedAt", "completedAt")
SELECT "id", "queue", "name", "key", "status", "attempts", "maxAttempts", "runAt", "lockedBy", "lockedUntil", "lastError", "createdAt", "updatedAt", "completedAt" FROM "old_Job";

-- CreateTable
CREATE TABLE "JobInput" (
    "jobId" TEXT NOT NULL PRIMARY KEY,
    "data" TEXT NOT NULL,
    CONSTRAINT "JobInput_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "JobInput" ("jobId", "data") SELECT "id", "data" FROM "old_Job" WHERE "status" <> 'completed';

DROP TABLE "old_Job";

-- CreateIndex
CREATE UNIQUE INDEX "Job_key_key" ON "Job"("key");

-- CreateIndex
CREATE INDEX "Job_queue_status_runAt_idx" ON "Job"("queue", "status", "runAt");

-- CreateIndex
CREATE INDEX "Job_status_lockedUntil_idx" ON "Job"("status", "lockedUntil");
