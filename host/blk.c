// SPDX-License-Identifier: GPL-2.0
/*
 * Block backend (PVCHAN_DEV_BLK) on an image file or a block device.
 *
 * Data moves without a copy: the guest pages named by a request's segment
 * table are pinned, described by a bio_vec iov_iter and handed to the
 * backing file's ->read_iter/->write_iter, with IOCB_DIRECT when the file
 * supports direct I/O and the request is aligned for it, buffered otherwise
 * (tmpfs images, unaligned requests).  Direct I/O is asynchronous (the
 * pattern of loop's lo_rw_aio): the queue worker submits and goes on with
 * the ring, the kiocb's completion hands the request back to the worker,
 * which unpins the pages and posts the completion.  FUA writes use
 * IOCB_DSYNC, FLUSH is vfs_fsync().  On an image file DISCARD punches a
 * hole and WRITE_ZEROES zeroes the range (a hole where the file system
 * cannot zero in place); on a block device they are discards and zero-outs
 * (writing zeroes where the device has no command for it).  Those run in
 * the worker.
 *
 * When QUEUE_RESET returns no request of the queue is in progress and no
 * guest page is pinned (pvchan_queue_reset() waits for the I/O).
 */
#include <linux/blkdev.h>
#include <linux/ctype.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <kunit/visibility.h>

#include "pvchan_host.h"

#define PVCHAN_BLK_MAX_SEGS	128
#define PVCHAN_BLK_MAX_BYTES	SZ_1M		/* per READ/WRITE request */
/* Each segment may straddle one more page than its length needs. */
#define PVCHAN_BLK_MAX_PAGES	(PVCHAN_BLK_MAX_BYTES / PAGE_SIZE + \
				 PVCHAN_BLK_MAX_SEGS)
#define PVCHAN_BLK_MAX_DISCARD	BIT(22)		/* sectors: 2 GiB */

struct pvchan_blk {
	struct file *file;
	struct block_device *bdev;	/* NULL for an image file */
	bool ro;
	bool can_direct;
	unsigned int dio_align;		/* backend's logical block size */
	unsigned int lbs;		/* logical block size shown */
	unsigned int pbs;
	u8 serial[PVCHAN_BLK_SERIAL_LEN];
};

/* Per-queue scratch, used by one worker at a time (queue lock). */
struct pvchan_blk_queue {
	struct pvchan_seg segs[PVCHAN_BLK_MAX_SEGS];
};

static struct pvchan_blk *pvchan_blk(struct pvchan_queue *q)
{
	return q->dev->priv;
}

static u64 pvchan_blk_sectors(struct pvchan_blk *blk)
{
	return i_size_read(blk->file->f_mapping->host) >>
	       PVCHAN_BLK_SECTOR_SHIFT;
}

/* Printable characters, then NUL padding. */
static bool pvchan_blk_serial_ok(const u8 *serial)
{
	size_t n = strnlen(serial, PVCHAN_BLK_SERIAL_LEN), i;

	for (i = 0; i < n; i++)
		if (!isprint(serial[i]))
			return false;
	return !memchr_inv(serial + n, 0, PVCHAN_BLK_SERIAL_LEN - n);
}

static int pvchan_blk_create(struct pvchan_dev *dev,
			     const struct pvchan_ctl_dev *cfg,
			     struct file *file)
{
	struct inode *inode;
	struct pvchan_blk *blk;

	if (!file)
		return -EBADF;
	inode = file->f_mapping->host;
	if (!S_ISREG(inode->i_mode) && !S_ISBLK(inode->i_mode))
		return -EINVAL;
	if (!(file->f_mode & FMODE_READ))
		return -EBADF;
	if (!pvchan_blk_serial_ok(cfg->serial))
		return -EINVAL;

	blk = kzalloc(sizeof(*blk), GFP_KERNEL);
	if (!blk)
		return -ENOMEM;
	blk->file = get_file(file);
	blk->ro = (cfg->flags & PVCHAN_CTL_DEV_F_RO) ||
		  !(file->f_mode & FMODE_WRITE);
	blk->can_direct = file->f_mode & FMODE_CAN_ODIRECT;
	if (S_ISBLK(inode->i_mode)) {
		blk->bdev = I_BDEV(inode);
		blk->dio_align = bdev_logical_block_size(blk->bdev);
		blk->lbs = blk->dio_align;
		blk->pbs = bdev_physical_block_size(blk->bdev);
	} else {
		blk->dio_align = inode->i_sb->s_bdev ?
			bdev_logical_block_size(inode->i_sb->s_bdev) : 512;
		blk->lbs = 512;
		blk->pbs = max_t(unsigned int, 512, i_blocksize(inode));
	}
	memcpy(blk->serial, cfg->serial, sizeof(blk->serial));

	dev->priv = blk;
	dev->max_segs = PVCHAN_BLK_MAX_SEGS;
	dev->config_len = sizeof(struct pvchan_blk_config);
	dev->features = BIT_ULL(PVCHAN_BLK_F_FLUSH) | BIT_ULL(PVCHAN_BLK_F_FUA);
	if (blk->ro) {
		dev->features |= BIT_ULL(PVCHAN_BLK_F_RO);
	} else if (blk->bdev) {
		/* Zeroing falls back to writing zeroes; discard may not exist. */
		dev->features |= BIT_ULL(PVCHAN_BLK_F_WRITE_ZEROES);
		if (bdev_max_discard_sectors(blk->bdev))
			dev->features |= BIT_ULL(PVCHAN_BLK_F_DISCARD);
	} else if (file->f_op->fallocate) {
		dev->features |= BIT_ULL(PVCHAN_BLK_F_DISCARD) |
				 BIT_ULL(PVCHAN_BLK_F_WRITE_ZEROES);
	}
	return 0;
}

static void pvchan_blk_destroy(struct pvchan_dev *dev)
{
	struct pvchan_blk *blk = dev->priv;

	fput(blk->file);
	kfree(blk);
}

static void pvchan_blk_get_config(struct pvchan_dev *dev, void *buf)
{
	struct pvchan_blk *blk = dev->priv;
	struct pvchan_blk_config *c = buf;

	c->capacity = cpu_to_le64(pvchan_blk_sectors(blk));
	c->logical_block_size = cpu_to_le32(blk->lbs);
	c->physical_block_size = cpu_to_le32(blk->pbs);
	c->max_segs = cpu_to_le32(PVCHAN_BLK_MAX_SEGS);
	c->max_seg_size = cpu_to_le32(PVCHAN_BLK_MAX_BYTES);
	if (dev->features & BIT_ULL(PVCHAN_BLK_F_DISCARD)) {
		c->max_discard_sectors = cpu_to_le32(PVCHAN_BLK_MAX_DISCARD);
		c->discard_granularity = cpu_to_le32(blk->pbs);
	}
	if (dev->features & BIT_ULL(PVCHAN_BLK_F_WRITE_ZEROES))
		c->max_write_zeroes_sectors = cpu_to_le32(PVCHAN_BLK_MAX_DISCARD);
	memcpy(c->serial, blk->serial, sizeof(c->serial));
}

static int pvchan_blk_queue_init(struct pvchan_queue *q)
{
	struct pvchan_blk_queue *bq = kvzalloc(sizeof(*bq), GFP_KERNEL);

	q->priv = bq;
	return bq ? 0 : -ENOMEM;
}

static void pvchan_blk_queue_free(struct pvchan_queue *q)
{
	kvfree(q->priv);
	q->priv = NULL;
}

/**
 * pvchan_blk_in_range() - is [sector, sector + count) inside the device?
 * @cap: device capacity in sectors.
 * @sector: first sector (guest controlled).
 * @count: sectors (guest controlled).
 *
 * Return: true if the whole range fits, without overflowing.
 */
VISIBLE_IF_KUNIT bool pvchan_blk_in_range(u64 cap, u64 sector, u64 count)
{
	return sector <= cap && count <= cap - sector;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_blk_in_range);

/**
 * pvchan_blk_seg_bytes() - check a guest segment table.
 * @segs: the table as read from the guest.
 * @nsegs: entries, 1..PVCHAN_BLK_MAX_SEGS.
 *
 * Return: the bytes the segments cover, or 0 if a segment is empty, not a
 * multiple of 512 bytes, or the total exceeds PVCHAN_BLK_MAX_BYTES.
 */
VISIBLE_IF_KUNIT size_t pvchan_blk_seg_bytes(const struct pvchan_seg *segs,
					     unsigned int nsegs)
{
	size_t bytes = 0;
	unsigned int i;

	for (i = 0; i < nsegs; i++) {
		u32 len = le32_to_cpu(segs[i].len);

		if (!len || len % 512 || len > PVCHAN_BLK_MAX_BYTES - bytes)
			return 0;
		bytes += len;
	}
	return bytes;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_blk_seg_bytes);

/**
 * struct pvchan_blk_io - a READ or WRITE in flight.
 * @req: the ring's view (completion, release).
 * @iocb: the backend I/O; completes through pvchan_blk_io_done().
 * @q: the queue.
 * @bytes: transfer size.
 * @write: guest WRITE (host reads guest pages).
 * @npages: pinned pages.
 * @pages: the pinned guest pages (after @bvec).
 * @bvec: one entry per pinned page.
 */
struct pvchan_blk_io {
	struct pvchan_req req;
	struct kiocb iocb;
	struct pvchan_queue *q;
	size_t bytes;
	bool write;
	unsigned int npages;
	struct page **pages;
	struct bio_vec bvec[];
};

static void pvchan_blk_io_release(struct pvchan_req *req)
{
	struct pvchan_blk_io *io = container_of(req, struct pvchan_blk_io,
						req);

	/* A guest READ wrote to the pages. */
	unpin_user_pages_dirty_lock(io->pages, io->npages, !io->write);
	kfree(io);
}

/* ki_complete: any context. */
static void pvchan_blk_io_done(struct kiocb *iocb, long ret)
{
	struct pvchan_blk_io *io = container_of(iocb, struct pvchan_blk_io,
						iocb);

	if (ret == io->bytes) {
		io->req.cqe.status = cpu_to_le32(PVCHAN_ST_OK);
		io->req.cqe.len = cpu_to_le32(io->bytes);
	} else {
		pvchan_guest_dbg(io->q->dev->vm,
				 "dev%u: %s at %lld: %ld\n", io->q->dev->index,
				 io->write ? "write" : "read",
				 io->iocb.ki_pos, ret);
		io->req.cqe.status = cpu_to_le32(PVCHAN_ST_IOERR);
	}
	pvchan_queue_complete(io->q, &io->req);
}

/*
 * Start the backend I/O; returns -EIOCBQUEUED (pvchan_blk_io_done() runs
 * later) or the result of I/O done synchronously.
 */
static ssize_t pvchan_blk_io_submit(struct pvchan_blk *blk,
				    struct pvchan_blk_io *io, loff_t pos,
				    bool fua, bool direct)
{
	struct file *file = blk->file;
	struct iov_iter iter;
	ssize_t ret;

	iov_iter_bvec(&iter, io->write ? WRITE : READ, io->bvec, io->npages,
		      io->bytes);
	init_sync_kiocb(&io->iocb, file);
	io->iocb.ki_pos = pos;
	/* Only direct I/O completes asynchronously (as loop's lo_rw_aio). */
	if (direct) {
		io->iocb.ki_flags |= IOCB_DIRECT;
		io->iocb.ki_complete = pvchan_blk_io_done;
	} else {
		/* Even if the backing file was opened with O_DIRECT. */
		io->iocb.ki_flags &= ~IOCB_DIRECT;
	}
	if (fua)
		io->iocb.ki_flags |= IOCB_DSYNC;
	if (!io->write)
		return file->f_op->read_iter(&io->iocb, &iter);
	file_start_write(file);
	ret = file->f_op->write_iter(&io->iocb, &iter);
	file_end_write(file);
	return ret;
}

/* Pin the segments' pages into @io; false (all unpinned) on a fault. */
static bool pvchan_blk_pin(struct pvchan_queue *q, struct pvchan_blk_io *io,
			   unsigned int nsegs, unsigned int max_pages,
			   bool *direct)
{
	struct pvchan_blk_queue *bq = q->priv;
	struct pvchan_blk *blk = pvchan_blk(q);
	unsigned int i;
	int n;

	/* A guest READ is a host write into guest memory. */
	n = pvchan_pin_segs(q, bq->segs, nsegs, !io->write, io->pages,
			    io->bvec, max_pages);
	if (n < 0)
		return false;
	io->npages = n;
	for (i = 0; i < n; i++)
		if (!IS_ALIGNED(io->bvec[i].bv_offset | io->bvec[i].bv_len,
				blk->dio_align))
			*direct = false;
	return true;
}

/*
 * READ or WRITE: returns a PVCHAN_REJ_* for malformed requests, -1 when
 * @cqe is final, PVCHAN_ASYNC when the I/O completes later.
 */
static int pvchan_blk_rw(struct pvchan_queue *q, const struct pvchan_sqe *sqe,
			 struct pvchan_cqe *cqe, bool write)
{
	struct pvchan_blk_queue *bq = q->priv;
	struct pvchan_blk *blk = pvchan_blk(q);
	u16 flags = le16_to_cpu(sqe->flags);
	u32 tlen = le32_to_cpu(sqe->len);
	u64 sector = le64_to_cpu(sqe->args[0]);
	loff_t pos = sector << PVCHAN_BLK_SECTOR_SHIFT;
	bool fua = flags & PVCHAN_SQE_F_FUA;
	bool direct = blk->can_direct;
	struct pvchan_blk_io *io;
	unsigned int nsegs, max_pages;
	size_t bytes;
	ssize_t done;

	cqe->status = cpu_to_le32(PVCHAN_ST_INVAL);
	if (!(q->dev->vm->features & BIT_ULL(PVCHAN_F_INDIRECT)) ||
	    !(flags & PVCHAN_SQE_F_INDIRECT) ||
	    (flags & ~(PVCHAN_SQE_F_INDIRECT | PVCHAN_SQE_F_FUA)) ||
	    (!write && fua))
		return PVCHAN_REJ_RING_DESC;
	nsegs = tlen / sizeof(struct pvchan_seg);
	if (!nsegs || nsegs > PVCHAN_BLK_MAX_SEGS ||
	    tlen % sizeof(struct pvchan_seg))
		return PVCHAN_REJ_RING_DESC;
	if (pvchan_kvm_read(q->dev->vm->kvm, le64_to_cpu(sqe->addr), bq->segs,
			    tlen)) {
		cqe->status = cpu_to_le32(PVCHAN_ST_FAULT);
		return PVCHAN_REJ_FAULT;
	}
	bytes = pvchan_blk_seg_bytes(bq->segs, nsegs);
	if (!bytes ||
	    !pvchan_blk_in_range(pvchan_blk_sectors(blk), sector,
				 bytes >> PVCHAN_BLK_SECTOR_SHIFT))
		return PVCHAN_REJ_RING_DESC;
	if (write && blk->ro) {
		cqe->status = cpu_to_le32(PVCHAN_ST_IOERR);
		return -1;
	}

	/* Segments are checked: at most PVCHAN_BLK_MAX_PAGES. */
	max_pages = pvchan_segs_nr_pages(bq->segs, nsegs);
	io = kmalloc(struct_size(io, bvec, max_pages) +
		     max_pages * sizeof(struct page *), GFP_KERNEL);
	if (!io) {
		cqe->status = cpu_to_le32(PVCHAN_ST_IOERR);
		return -1;
	}
	io->q = q;
	io->bytes = bytes;
	io->write = write;
	io->npages = 0;
	io->pages = (struct page **)&io->bvec[max_pages];
	io->req.release = pvchan_blk_io_release;
	if (!pvchan_blk_pin(q, io, nsegs, max_pages, &direct)) {
		kfree(io);
		cqe->status = cpu_to_le32(PVCHAN_ST_FAULT);
		return PVCHAN_REJ_FAULT;
	}
	if (!IS_ALIGNED(pos, blk->dio_align))
		direct = false;

	pvchan_req_start(q, &io->req, cqe);
	done = pvchan_blk_io_submit(blk, io, pos, fua, direct);
	/* Some file systems refuse direct I/O for a given range: retry. */
	if (done == -EINVAL && direct)
		done = pvchan_blk_io_submit(blk, io, pos, fua, false);
	if (done != -EIOCBQUEUED)
		pvchan_blk_io_done(&io->iocb, done);
	return PVCHAN_ASYNC;
}

/* DISCARD and WRITE_ZEROES. */
static int pvchan_blk_zero(struct pvchan_queue *q, const struct pvchan_sqe *sqe,
			   struct pvchan_cqe *cqe, bool discard)
{
	struct pvchan_blk *blk = pvchan_blk(q);
	u64 sector = le64_to_cpu(sqe->args[0]);
	u64 count = le64_to_cpu(sqe->args[1]);
	loff_t pos = sector << PVCHAN_BLK_SECTOR_SHIFT;
	loff_t len = count << PVCHAN_BLK_SECTOR_SHIFT;
	int ret;

	cqe->status = cpu_to_le32(PVCHAN_ST_INVAL);
	if (sqe->flags || !count || count > PVCHAN_BLK_MAX_DISCARD ||
	    !pvchan_blk_in_range(pvchan_blk_sectors(blk), sector, count))
		return PVCHAN_REJ_RING_DESC;
	if (!(q->dev->features & BIT_ULL(discard ? PVCHAN_BLK_F_DISCARD :
					       PVCHAN_BLK_F_WRITE_ZEROES))) {
		cqe->status = cpu_to_le32(blk->ro ? PVCHAN_ST_IOERR :
						    PVCHAN_ST_UNSUPP);
		return -1;
	}
	if (blk->bdev) {
		/* Drop what the page cache (buffered fallback) holds there. */
		truncate_inode_pages_range(blk->file->f_mapping, pos,
					   pos + len - 1);
		if (discard)
			ret = blkdev_issue_discard(blk->bdev, sector, count,
						   GFP_KERNEL);
		else
			ret = blkdev_issue_zeroout(blk->bdev, sector, count,
						   GFP_KERNEL, 0);
	} else {
		ret = -EOPNOTSUPP;
		if (!discard)
			ret = vfs_fallocate(blk->file,
					    FALLOC_FL_ZERO_RANGE |
					    FALLOC_FL_KEEP_SIZE, pos, len);
		/* A hole reads as zeroes too, and is all tmpfs can do. */
		if (ret == -EOPNOTSUPP)
			ret = vfs_fallocate(blk->file,
					    FALLOC_FL_PUNCH_HOLE |
					    FALLOC_FL_KEEP_SIZE, pos, len);
	}
	if (ret)
		pvchan_guest_dbg(q->dev->vm, "dev%u: %s at sector %llu: %d\n",
				 q->dev->index,
				 discard ? "discard" : "write zeroes", sector,
				 ret);
	cqe->status = cpu_to_le32(ret ? PVCHAN_ST_IOERR : PVCHAN_ST_OK);
	return -1;
}

static int pvchan_blk_handle(struct pvchan_queue *q,
			     const struct pvchan_sqe *sqe,
			     struct pvchan_cqe *cqe)
{
	switch (le16_to_cpu(sqe->opcode)) {
	case PVCHAN_BLK_OP_READ:
		return pvchan_blk_rw(q, sqe, cqe, false);
	case PVCHAN_BLK_OP_WRITE:
		return pvchan_blk_rw(q, sqe, cqe, true);
	case PVCHAN_BLK_OP_FLUSH:
		cqe->status = cpu_to_le32(vfs_fsync(pvchan_blk(q)->file, 0) ?
					  PVCHAN_ST_IOERR : PVCHAN_ST_OK);
		return -1;
	case PVCHAN_BLK_OP_DISCARD:
		return pvchan_blk_zero(q, sqe, cqe, true);
	case PVCHAN_BLK_OP_WRITE_ZEROES:
		return pvchan_blk_zero(q, sqe, cqe, false);
	default:
		cqe->status = cpu_to_le32(PVCHAN_ST_UNSUPP);
		return PVCHAN_REJ_RING_DESC;
	}
}

const struct pvchan_dev_ops pvchan_blk_ops = {
	.type = PVCHAN_DEV_BLK,
	.name = "blk",
	.op_names = {
		[PVCHAN_BLK_OP_READ] = "read",
		[PVCHAN_BLK_OP_WRITE] = "write",
		[PVCHAN_BLK_OP_FLUSH] = "flush",
		[PVCHAN_BLK_OP_DISCARD] = "discard",
		[PVCHAN_BLK_OP_WRITE_ZEROES] = "write_zeroes",
	},
	.create = pvchan_blk_create,
	.destroy = pvchan_blk_destroy,
	.get_config = pvchan_blk_get_config,
	.queue_init = pvchan_blk_queue_init,
	.queue_free = pvchan_blk_queue_free,
	.handle = pvchan_blk_handle,
};
