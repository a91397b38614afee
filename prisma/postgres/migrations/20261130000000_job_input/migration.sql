-- A job's input moves to a table of its own, so that claims, heartbeats and completions rewrite the
-- small job row only. Inputs of completed jobs were already cleared ('{}') and are not carried over.

-- CreateTable
CREATE TABLE "JobInput" (
    "jobId" TEXT NOT NULL,
    "data" TEXT NOT NULL,

    CONSTRAINT "JobInput_pkey" PRIMARY KEY ("jobId")
);

-- AddForeignKey
ALTER TABLE "JobInput" ADD CONSTRAINT "JobInput_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE;

INSERT INTO "JobInput" ("jobId", "data") SELECT "id", "data" FROM "Job" WHERE "status" <> 'completed';

-- AlterTable
ALTER TABLE "Job" DROP COLUMN "data";
