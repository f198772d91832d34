// SPDX-License-Identifier: GPL-2.0
/*
 * Block backend (PVCHAN_DEV_BLK) on an image file or a block device.
 *
 * Data moves without a copy: the guest pages named by a request's segment
 * table are pinned, described by a bio_vec iov_iter and handed to the
 * backing file's ->read_iter/->write_iter, with IOCB_DIRECT when the file
 * supports direct I/O and the request is aligned for it, buffered otherwise
 * (tmpfs images, unaligned requests).  FUA writes use IOCB_DSYNC, FLUSH is
 * vfs_fsync(), DISCARD punches a hole, WRITE_ZEROES zeroes the range (a hole
 * where the file system cannot zero in place).
 *
 * Requests are served in the queue worker (pvchan_queue_work), with the
 * VMM's mm in use; when QUEUE_RESET returns no request of the queue is in
 * progress and no guest page is pinned.
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
	struct page *pages[PVCHAN_BLK_MAX_PAGES];
	struct bio_vec bvec[PVCHAN_BLK_MAX_PAGES];
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
		blk->dio_align = bdev_logical_block_size(I_BDEV(inode));
		blk->lbs = blk->dio_align;
		blk->pbs = bdev_physical_block_size(I_BDEV(inode));
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
	if (blk->ro)
		dev->features |= BIT_ULL(PVCHAN_BLK_F_RO);
	else if (file->f_op->fallocate)
		dev->features |= BIT_ULL(PVCHAN_BLK_F_DISCARD) |
				 BIT_ULL(PVCHAN_BLK_F_WRITE_ZEROES);
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
		c->max_write_zeroes_sectors = cpu_to_le32(PVCHAN_BLK_MAX_DISCARD);
		c->discard_granularity = cpu_to_le32(blk->pbs);
	}
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

static ssize_t pvchan_blk_do_rw(struct pvchan_blk *blk, bool write,
				struct bio_vec *bvec, unsigned int nr,
				size_t bytes, loff_t pos, bool fua, bool direct)
{
	struct iov_iter iter;
	struct kiocb kiocb;
	ssize_t ret;

	iov_iter_bvec(&iter, write ? WRITE : READ, bvec, nr, bytes);
	init_sync_kiocb(&kiocb, blk->file);
	kiocb.ki_pos = pos;
	if (direct)
		kiocb.ki_flags |= IOCB_DIRECT;
	if (fua)
		kiocb.ki_flags |= IOCB_DSYNC;
	if (!write)
		return call_read_iter(blk->file, &kiocb, &iter);
	file_start_write(blk->file);
	ret = call_write_iter(blk->file, &kiocb, &iter);
	file_end_write(blk->file);
	return ret;
}

/* READ or WRITE: returns a PVCHAN_REJ_* for malformed requests, else -1. */
static int pvchan_blk_rw(struct pvchan_queue *q, const struct pvchan_sqe *sqe,
			 struct pvchan_cqe *cqe, bool write)
{
	struct pvchan_blk_queue *bq = q->priv;
	struct pvchan_blk *blk = pvchan_blk(q);
	struct kvm *kvm = q->dev->vm->kvm;
	u16 flags = le16_to_cpu(sqe->flags);
	u32 tlen = le32_to_cpu(sqe->len);
	u64 sector = le64_to_cpu(sqe->args[0]);
	unsigned int nsegs, i, j, npages = 0;
	bool direct = blk->can_direct;
	size_t bytes = 0;
	ssize_t done;
	int n;

	cqe->status = cpu_to_le32(PVCHAN_ST_INVAL);
	if (!(q->dev->vm->features & BIT_ULL(PVCHAN_F_INDIRECT)) ||
	    !(flags & PVCHAN_SQE_F_INDIRECT) ||
	    (flags & ~(PVCHAN_SQE_F_INDIRECT | PVCHAN_SQE_F_FUA)) ||
	    (!write && (flags & PVCHAN_SQE_F_FUA)))
		return PVCHAN_REJ_RING_DESC;
	nsegs = tlen / sizeof(struct pvchan_seg);
	if (!nsegs || nsegs > PVCHAN_BLK_MAX_SEGS ||
	    tlen % sizeof(struct pvchan_seg))
		return PVCHAN_REJ_RING_DESC;
	if (pvchan_kvm_read(kvm, le64_to_cpu(sqe->addr), bq->segs, tlen)) {
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

	for (i = 0; i < nsegs; i++) {
		u64 gpa = le64_to_cpu(bq->segs[i].addr);
		u32 len = le32_to_cpu(bq->segs[i].len);
		u32 off = offset_in_page(gpa);

		/* A guest READ is a host write into guest memory. */
		n = pvchan_kvm_pin(kvm, gpa, len, !write, bq->pages + npages,
				   PVCHAN_BLK_MAX_PAGES - npages);
		if (n < 0) {
			cqe->status = cpu_to_le32(PVCHAN_ST_FAULT);
			unpin_user_pages(bq->pages, npages);
			return PVCHAN_REJ_FAULT;
		}
		for (j = 0; j < n; j++) {
			struct bio_vec *bv = &bq->bvec[npages + j];
			u32 chunk = min_t(u32, len, PAGE_SIZE - off);

			bv->bv_page = bq->pages[npages + j];
			bv->bv_offset = off;
			bv->bv_len = chunk;
			if (!IS_ALIGNED(off | chunk, blk->dio_align))
				direct = false;
			len -= chunk;
			off = 0;
		}
		npages += n;
	}
	if (!IS_ALIGNED(sector << PVCHAN_BLK_SECTOR_SHIFT, blk->dio_align))
		direct = false;

	done = pvchan_blk_do_rw(blk, write, bq->bvec, npages, bytes,
				sector << PVCHAN_BLK_SECTOR_SHIFT,
				flags & PVCHAN_SQE_F_FUA, direct);
	/* Some file systems refuse direct I/O for a given range: retry. */
	if (done == -EINVAL && direct)
		done = pvchan_blk_do_rw(blk, write, bq->bvec, npages, bytes,
					sector << PVCHAN_BLK_SECTOR_SHIFT,
					flags & PVCHAN_SQE_F_FUA, false);
	unpin_user_pages_dirty_lock(bq->pages, npages, !write);
	if (done != bytes) {
		pvchan_guest_dbg(q->dev->vm, "dev%u: %s at sector %llu: %zd\n",
				 q->dev->index, write ? "write" : "read",
				 sector, done);
		cqe->status = cpu_to_le32(PVCHAN_ST_IOERR);
		return -1;
	}
	cqe->status = cpu_to_le32(PVCHAN_ST_OK);
	cqe->len = cpu_to_le32(bytes);
	return -1;
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
	if (!(q->dev->features & BIT_ULL(PVCHAN_BLK_F_DISCARD))) {
		cqe->status = cpu_to_le32(blk->ro ? PVCHAN_ST_IOERR :
						    PVCHAN_ST_UNSUPP);
		return -1;
	}
	ret = -EOPNOTSUPP;
	if (!discard)
		ret = vfs_fallocate(blk->file,
				    FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				    pos, len);
	/* A hole reads as zeroes too, and is all tmpfs can do. */
	if (ret == -EOPNOTSUPP)
		ret = vfs_fallocate(blk->file,
				    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    pos, len);
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
	.create = pvchan_blk_create,
	.destroy = pvchan_blk_destroy,
	.get_config = pvchan_blk_get_config,
	.queue_init = pvchan_blk_queue_init,
	.queue_free = pvchan_blk_queue_free,
	.handle = pvchan_blk_handle,
};
