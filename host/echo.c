// SPDX-License-Identifier: GPL-2.0
/*
 * The echo device: a test device that moves data both ways through guest
 * memory.  PVCHAN_ECHO_OP_COPY copies sqe.len bytes from sqe.addr to
 * sqe.args[0] and returns their CRC32 in cqe.value.
 */
#include <linux/crc32.h>
#include <linux/slab.h>

#include "pvchan_host.h"

static int pvchan_echo_queue_init(struct pvchan_queue *q)
{
	q->priv = kvmalloc(PVCHAN_ECHO_MAX_LEN, GFP_KERNEL);
	return q->priv ? 0 : -ENOMEM;
}

static void pvchan_echo_queue_free(struct pvchan_queue *q)
{
	kvfree(q->priv);
	q->priv = NULL;
}

static int pvchan_echo_handle(struct pvchan_queue *q,
			      const struct pvchan_sqe *sqe,
			      struct pvchan_cqe *cqe)
{
	struct kvm *kvm = q->dev->vm->kvm;
	u32 len = le32_to_cpu(sqe->len);

	if (le16_to_cpu(sqe->opcode) != PVCHAN_ECHO_OP_COPY) {
		cqe->status = cpu_to_le32(PVCHAN_ST_UNSUPP);
		return PVCHAN_REJ_RING_DESC;
	}
	if (!len || len > PVCHAN_ECHO_MAX_LEN || sqe->flags) {
		cqe->status = cpu_to_le32(PVCHAN_ST_INVAL);
		return PVCHAN_REJ_RING_DESC;
	}
	if (pvchan_kvm_read(kvm, le64_to_cpu(sqe->addr), q->priv, len) ||
	    pvchan_kvm_write(kvm, le64_to_cpu(sqe->args[0]), q->priv, len)) {
		cqe->status = cpu_to_le32(PVCHAN_ST_FAULT);
		return PVCHAN_REJ_FAULT;
	}
	cqe->status = cpu_to_le32(PVCHAN_ST_OK);
	cqe->len = cpu_to_le32(len);
	cqe->value = cpu_to_le64(crc32_le(~0U, q->priv, len));
	return -1;
}

const struct pvchan_dev_ops pvchan_echo_ops = {
	.type = PVCHAN_DEV_ECHO,
	.name = "echo",
	.op_names = { [PVCHAN_ECHO_OP_COPY] = "copy" },
	.queue_init = pvchan_echo_queue_init,
	.queue_free = pvchan_echo_queue_free,
	.handle = pvchan_echo_handle,
};
