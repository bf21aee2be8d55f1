// SPDX-License-Identifier: GPL-2.0

/**
 * DOC: eventfd Preservation via LUO
 *
 * Overview
 * ========
 *
 * An eventfd can be preserved over a kexec with the Live Update Orchestrator
 * (LUO). A virtual machine monitor or a service manager that keeps eventfds
 * as interrupt, doorbell or wake-up counters hands them to LUO before the
 * update and retrieves them afterwards, with no event lost.
 *
 * Only the properties listed below survive. Everything else is reset to what
 * a new eventfd has.
 *
 * Preserved Properties
 * ====================
 *
 * Counter
 *   The full 64-bit counter. It is read when the file is preserved and read
 *   again when the reboot into the next kernel freezes the preserved files,
 *   so events signalled in between are kept. ``ULLONG_MAX``, the overflow
 *   state that poll() reports as ``EPOLLERR``, is preserved as itself.
 *
 * Semaphore Mode
 *   An eventfd created with ``EFD_SEMAPHORE`` still returns 1 per read.
 *
 * Non-Blocking Mode
 *   ``O_NONBLOCK`` as the file has it at reboot, including a change made with
 *   ``fcntl(F_SETFL)`` after creation or after preservation.
 *
 * File Status Flags
 *   An eventfd is always open ``O_RDWR``. The retrieved one is too.
 *
 * .. note::
 *    The freeze does not stop other tasks. A write or an in-kernel signal
 *    that reaches the eventfd after the reboot has frozen the preserved
 *    files succeeds but is not carried to the next kernel. Stop the
 *    producers of events before the reboot to keep every event.
 *
 * Non-Preserved Properties
 * ========================
 *
 * File descriptor number
 *   The retrieved file gets the fd that LUO allocates for it.
 *
 * ``FD_CLOEXEC`` flag
 *   LUO installs every retrieved fd with ``FD_CLOEXEC`` set, whatever the
 *   eventfd had before.
 *
 * Waiters, poll and epoll registrations
 *   Userspace must poll again or add the new fd to its epoll sets.
 *
 * eventfd id
 *   The ``eventfd-id`` shown in fdinfo is allocated anew.
 *
 * In-kernel users
 *   Links held by KVM irqfd and ioeventfd, VFIO interrupt triggers, vhost,
 *   io_uring or AIO are not carried over. Those subsystems must be attached
 *   to the retrieved eventfd again.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/eventfd.h>
#include <linux/liveupdate.h>
#include <linux/mm.h>

#include "internal.h"

static void eventfd_luo_save(struct file *file, struct eventfd_luo_ser *ser)
{
	unsigned int flags;
	u64 count;

	eventfd_file_state(file, &count, &flags);

	ser->count = count;
	ser->flags = 0;
	if (flags & EFD_SEMAPHORE)
		ser->flags |= EVENTFD_LUO_FLAG_SEMAPHORE;
	if (flags & EFD_NONBLOCK)
		ser->flags |= EVENTFD_LUO_FLAG_NONBLOCK;
	ser->reserved = 0;
}

/*
 * The handle comes from the previous kernel. A record is one page of its
 * own, so anything that is not a non-zero, page-aligned address is corrupt.
 */
static int eventfd_luo_check_handle(u64 handle)
{
	if (!handle || !PAGE_ALIGNED(handle)) {
		pr_err("invalid handover record address %#llx\n", handle);
		return -EINVAL;
	}

	return 0;
}

/* Take back the record that the previous kernel preserved at @handle. */
static struct eventfd_luo_ser *eventfd_luo_restore_ser(u64 handle)
{
	struct folio *folio;

	if (eventfd_luo_check_handle(handle))
		return NULL;

	folio = kho_restore_folio(handle);
	if (!folio) {
		pr_err("handover record at %#llx is not preserved memory\n",
		       handle);
		return NULL;
	}

	return folio_address(folio);
}

/*
 * Check a record from the previous kernel and convert its flags into the
 * EFD_* flags that eventfd_file_create() takes. Every counter value is
 * valid, ULLONG_MAX included.
 */
static int eventfd_luo_decode(const struct eventfd_luo_ser *ser,
			      unsigned int *flags)
{
	if (ser->flags & ~EVENTFD_LUO_FLAGS_MASK) {
		pr_err("unknown flags %#x in handover record\n", ser->flags);
		return -EINVAL;
	}

	if (ser->reserved) {
		pr_err("reserved field is %#x in handover record, expected 0\n",
		       ser->reserved);
		return -EINVAL;
	}

	*flags = 0;
	if (ser->flags & EVENTFD_LUO_FLAG_SEMAPHORE)
		*flags |= EFD_SEMAPHORE;
	if (ser->flags & EVENTFD_LUO_FLAG_NONBLOCK)
		*flags |= EFD_NONBLOCK;

	return 0;
}

static void eventfd_luo_free_ser(struct eventfd_luo_ser *ser)
{
	folio_put(virt_to_folio(ser));
}

static int eventfd_luo_preserve(struct liveupdate_file_op_args *args)
{
	struct eventfd_luo_ser *ser;

	ser = kho_alloc_preserve(sizeof(*ser));
	if (IS_ERR(ser))
		return PTR_ERR(ser);

	eventfd_luo_save(args->file, ser);
	args->serialized_data = virt_to_phys(ser);

	return 0;
}

static int eventfd_luo_freeze(struct liveupdate_file_op_args *args)
{
	if (WARN_ON_ONCE(!args->serialized_data))
		return -EINVAL;

	/*
	 * Userspace could write to the eventfd or change its O_NONBLOCK with
	 * fcntl() after preserve, so both are read again. The next kernel reads
	 * this copy, even if another task still writes to the eventfd before
	 * the CPUs stop.
	 */
	eventfd_luo_save(args->file, phys_to_virt(args->serialized_data));

	return 0;
}

static void eventfd_luo_unpreserve(struct liveupdate_file_op_args *args)
{
	if (WARN_ON_ONCE(!args->serialized_data))
		return;

	kho_unpreserve_free(phys_to_virt(args->serialized_data));
}

static int eventfd_luo_retrieve(struct liveupdate_file_op_args *args)
{
	struct eventfd_luo_ser *ser;
	struct file *file;
	unsigned int flags;
	int err;

	ser = eventfd_luo_restore_ser(args->serialized_data);
	if (!ser)
		return -EINVAL;

	err = eventfd_luo_decode(ser, &flags);
	if (err)
		goto err_free_ser;

	file = eventfd_file_create(ser->count, flags);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		pr_err("failed to create eventfd: %pe\n", file);
		goto err_free_ser;
	}

	eventfd_luo_free_ser(ser);
	args->file = file;

	return 0;

err_free_ser:
	eventfd_luo_free_ser(ser);
	return err;
}

static void eventfd_luo_finish(struct liveupdate_file_op_args *args)
{
	struct eventfd_luo_ser *ser;

	/*
	 * A retrieve, successful or not, has already freed the record. Only
	 * a file that was never retrieved still owns it.
	 */
	if (args->retrieve_status)
		return;

	ser = eventfd_luo_restore_ser(args->serialized_data);
	if (ser)
		eventfd_luo_free_ser(ser);
}

static bool eventfd_luo_can_preserve(struct liveupdate_file_handler *handler,
				     struct file *file)
{
	return is_eventfd_file(file);
}

static const struct liveupdate_file_ops eventfd_luo_file_ops = {
	.can_preserve = eventfd_luo_can_preserve,
	.preserve = eventfd_luo_preserve,
	.unpreserve = eventfd_luo_unpreserve,
	.freeze = eventfd_luo_freeze,
	.retrieve = eventfd_luo_retrieve,
	.finish = eventfd_luo_finish,
	.owner = THIS_MODULE,
};

static struct liveupdate_file_handler eventfd_luo_handler = {
	.ops = &eventfd_luo_file_ops,
	.compatible = EVENTFD_LUO_FH_COMPATIBLE,
};

static int __init eventfd_luo_init(void)
{
	int err = liveupdate_register_file_handler(&eventfd_luo_handler);

	if (err && err != -EOPNOTSUPP) {
		pr_err("could not register the eventfd file handler: %pe\n",
		       ERR_PTR(err));
		return err;
	}

	return 0;
}
late_initcall(eventfd_luo_init);

#if IS_ENABLED(CONFIG_LIVEUPDATE_EVENTFD_KUNIT_TEST)
#include "eventfd_luo_test.c"
#endif
