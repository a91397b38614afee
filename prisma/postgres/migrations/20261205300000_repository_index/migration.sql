-- CreateTable
CREATE TABLE "RepositoryIndex" (
    "id" TEXT NOT NULL,
    "repositoryId" TEXT NOT NULL,
    "ref" TEXT NOT NULL,
    "commitSha" TEXT,
    "fileCount" INTEGER NOT NULL DEFAULT 0,
    "notes" JSONB,
    "failure" TEXT,
    "failedSha" TEXT,
    "failedAt" TIMESTAMP(3),
    "builtAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "RepositoryIndex_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "IndexedFile" (
    "indexId" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "blobSha" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "excluded" TEXT,

    CONSTRAINT "IndexedFile_pkey" PRIMARY KEY ("indexId","path")
);

-- CreateTable
CREATE TABLE "IndexedBlob" (
    "sha" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "content" TEXT,
    "omitted" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "IndexedBlob_pkey" PRIMARY KEY ("sha")
);

-- CreateIndex
CREATE UNIQUE INDEX "RepositoryIndex_repositoryId_key" ON "RepositoryIndex"("repositoryId");

-- CreateIndex
CREATE INDEX "IndexedFile_blobSha_idx" ON "IndexedFile"("blobSha");

-- AddForeignKey
ALTER TABLE "RepositoryIndex" ADD CONSTRAINT "RepositoryIndex_repositoryId_fkey" FOREIGN KEY ("repositoryId") REFERENCES "Repository"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "IndexedFile" ADD CONSTRAINT "IndexedFile_indexId_fkey" FOREIGN KEY ("indexId") REFERENCES "RepositoryIndex"("id") ON DELETE CASCADE ON UPDATE CASCADE;

