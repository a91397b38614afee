-- CreateTable
CREATE TABLE "RepositoryIndex" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "repositoryId" TEXT NOT NULL,
    "ref" TEXT NOT NULL,
    "commitSha" TEXT,
    "fileCount" INTEGER NOT NULL DEFAULT 0,
    "notes" JSONB,
    "failure" TEXT,
    "failedSha" TEXT,
    "failedAt" DATETIME,
    "builtAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "RepositoryIndex_repositoryId_fkey" FOREIGN KEY ("repositoryId") REFERENCES "Repository" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "IndexedFile" (
    "indexId" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "blobSha" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "excluded" TEXT,

    PRIMARY KEY ("indexId", "path"),
    CONSTRAINT "IndexedFile_indexId_fkey" FOREIGN KEY ("indexId") REFERENCES "RepositoryIndex" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "IndexedBlob" (
    "sha" TEXT NOT NULL PRIMARY KEY,
    "size" INTEGER NOT NULL,
    "content" TEXT,
    "omitted" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE UNIQUE INDEX "RepositoryIndex_repositoryId_key" ON "RepositoryIndex"("repositoryId");

-- CreateIndex
CREATE INDEX "IndexedFile_blobSha_idx" ON "IndexedFile"("blobSha");

