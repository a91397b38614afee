-- Approval rules move to GitHub accounts (which deleting a web account does not change), audit events
-- name people by a pseudonym kept only on their User row, sign-ins become revocable rows, a plan
-- version remembers the text it was shown with, and a BullMQ delivery keeps its payload in the
-- database until it is done.

-- AlterTable
ALTER TABLE "User" ADD COLUMN "auditPseudonym" TEXT;
-- Existing events already name people by their internal id: that id becomes their pseudonym.
UPDATE "User" SET "auditPseudonym" = "id";
ALTER TABLE "User" ALTER COLUMN "auditPseudonym" SET NOT NULL;

-- AlterTable
ALTER TABLE "Task" ADD COLUMN "requesterGithubId" BIGINT;
UPDATE "Task" SET "requesterGithubId" = "User"."githubId" FROM "User" WHERE "User"."id" = "Task"."requesterId";

-- AlterTable
ALTER TABLE "PlanVersion" ADD COLUMN "createdByGithubId" BIGINT;
UPDATE "PlanVersion" SET "createdByGithubId" = "User"."githubId" FROM "User" WHERE "User"."id" = "PlanVersion"."createdById";

-- AlterTable
ALTER TABLE "Approval" ADD COLUMN "approverGithubId" BIGINT;
UPDATE "Approval" SET "approverGithubId" = "User"."githubId" FROM "User" WHERE "User"."id" = "Approval"."approverId";

-- AlterTable
ALTER TABLE "PlanVersion" ADD COLUMN "postedBodyHash" TEXT;

-- AlterTable
ALTER TABLE "WebhookDelivery" ADD COLUMN "payload" TEXT;

-- CreateTable
CREATE TABLE "WebSession" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebSession_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_auditPseudonym_key" ON "User"("auditPseudonym");

-- CreateIndex
CREATE INDEX "WebSession_userId_idx" ON "WebSession"("userId");

-- CreateIndex
CREATE INDEX "WebSession_expiresAt_idx" ON "WebSession"("expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "Approval_planVersionId_approverGithubId_key" ON "Approval"("planVersionId", "approverGithubId");

-- AddForeignKey
ALTER TABLE "WebSession" ADD CONSTRAINT "WebSession_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
